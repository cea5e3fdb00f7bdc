/* deskdraft sidebar: rendering. Builds every element with textContent (never innerHTML), so
   nothing from a draft, a source title or an error can inject markup. Crayons components
   (fw-label, fw-spinner) carry their text both as `value` and as children: with Crayons loaded
   the component renders `value`; without it (CDN unreachable) the children show, styled by
   styles/style.css. Controls are native <button>, <select> and <textarea> styled like Crayons,
   so they stay focusable and labelled whether or not Crayons loads. */
(function () {
  'use strict';

  function h(tag, attrs, children) {
    const el = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([name, value]) {
      if (value === false || value === null || value === undefined) return;
      if (name === 'text') el.textContent = value;
      else if (name === 'onclick') el.addEventListener('click', value);
      else if (name === 'onsubmit') el.addEventListener('submit', value);
      else el.setAttribute(name, value === true ? '' : String(value));
    });
    (children || []).forEach(function (child) {
      if (child) el.append(child);
    });
    return el;
  }

  function label(text, color, extraClass) {
    return h('fw-label', { value: text, color: color, class: 'dd-label dd-label--' + color + ' ' + (extraClass || ''), text: text });
  }

  function spinner() {
    return h('fw-spinner', { size: 'small', class: 'dd-spinner', 'aria-hidden': 'true' });
  }

  function button(id, text, handler, variant, extra) {
    return h('button', Object.assign({ type: 'button', id: id, class: 'dd-btn dd-btn--' + (variant || 'secondary'), text: text, onclick: handler }, extra || {}));
  }

  const BAND_COLOR = { high: 'green', medium: 'yellow', low: 'red' };
  const KIND_NAME = { case: 'Past ticket', article: 'Article', canned_response: 'Canned response' };

  function bandText(draft) {
    const band = (draft.confidence_band && draft.confidence_band.label) || 'unknown';
    const number = typeof draft.confidence === 'number' ? draft.confidence.toFixed(2) : '?';
    return band.charAt(0).toUpperCase() + band.slice(1) + ' confidence · ' + number;
  }

  function precisionText(band) {
    if (!band || typeof band.measured_precision !== 'number') return null;
    return 'Approved as written or with edits ' + Math.round(band.measured_precision * 100) + '% of the time at this confidence';
  }

  function ageText(days) {
    if (typeof days !== 'number') return 'age unknown';
    if (days < 1) return 'from today';
    if (days < 60) return days === 1 ? '1 day old' : days + ' days old';
    if (days < 730) return Math.round(days / 30) + ' months old';
    return Math.round(days / 365) + ' years old';
  }

  function safeUrl(url) {
    return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
  }

  function sourceItem(source) {
    const url = safeUrl(source.url);
    const title = source.title || source.key;
    const name = url
      ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'dd-source-link', text: title, title: 'Opens in a new tab' })
      : h('span', { class: 'dd-source-title', text: title });
    const meta = h('span', { class: 'dd-source-meta', text: (KIND_NAME[source.kind] || source.kind) + ' · ' + ageText(source.age_days) });
    const internal = source.agent_only ? label('Agents only', 'grey', 'dd-agent-only') : null;
    if (internal) internal.setAttribute('title', 'Internal document: do not send this link to the customer');
    return h('li', { class: 'dd-source', 'data-key': source.key }, [name, meta, internal]);
  }

  function sourceList(sources, heading) {
    if (!sources || sources.length === 0) {
      return h('p', { class: 'dd-muted', text: heading + ': none' });
    }
    return h('section', { class: 'dd-sources', 'aria-label': heading }, [
      h('h2', { class: 'dd-subtitle', text: heading + ' (' + sources.length + ')' }),
      h('ul', { class: 'dd-source-list' }, sources.map(sourceItem))
    ]);
  }

  function flagList(flags) {
    if (!flags || flags.length === 0) return null;
    return h('section', { class: 'dd-flags', 'aria-label': 'Check before sending' }, [
      h('h2', { class: 'dd-subtitle', text: 'Check before sending' }),
      h('ul', { class: 'dd-flag-list' }, flags.map(function (flag) {
        return h('li', {}, [label(flag, 'yellow', 'dd-flag')]);
      }))
    ]);
  }

  const STATUS_NOTE = {
    sending: 'An agent approved this draft on the review page; it is being sent.',
    approved: 'This draft was already approved and sent from the review page.',
    rejected: 'This draft was rejected on the review page.',
    superseded: 'A newer customer message or a redraft replaced this draft.'
  };

  const REASONS = [
    ['', 'Choose a reason…'],
    ['Wrong topic', 'Wrong topic'],
    ['Wrong or outdated information', 'Wrong or outdated information'],
    ['Missing information', 'Missing information'],
    ['Tone or language', 'Tone or language'],
    ['Other', 'Other']
  ];

  function feedbackForm(handlers) {
    const select = h('select', { id: 'dd-reason', name: 'reason', class: 'dd-input', 'aria-required': 'true' },
      REASONS.map(function ([value, text]) { return h('option', { value: value, text: text }); }));
    const details = h('textarea', { id: 'dd-details', name: 'details', class: 'dd-input', rows: 3, maxlength: 1000, placeholder: 'What was wrong? (needed for "Other")' });
    return h('form', { id: 'dd-feedback-form', class: 'dd-feedback', hidden: true, onsubmit: handlers.submitNotUseful, 'aria-label': 'Not useful feedback' }, [
      h('label', { for: 'dd-reason', class: 'dd-field-label', text: 'Why is this draft not useful?' }),
      select,
      h('label', { for: 'dd-details', class: 'dd-field-label', text: 'Details (optional)' }),
      details,
      h('p', { id: 'dd-feedback-error', class: 'dd-error', role: 'alert' }),
      h('div', { class: 'dd-actions' }, [
        h('button', { type: 'submit', id: 'dd-feedback-send', class: 'dd-btn dd-btn--primary', text: 'Send feedback' }),
        button('dd-feedback-cancel', 'Cancel', handlers.cancelNotUseful, 'link')
      ])
    ]);
  }

  function draftActions(draft, handlers) {
    const sendable = draft.status === 'pending';
    return h('div', { class: 'dd-actions', role: 'group', 'aria-label': 'Draft actions' }, [
      button('dd-insert', 'Insert into reply', handlers.insert, sendable ? 'primary' : 'secondary', { 'aria-describedby': 'dd-draft-text' }),
      button('dd-redraft', 'Redraft', handlers.redraft, 'secondary', { disabled: draft.status === 'sending' || draft.status === 'approved' }),
      button('dd-not-useful', 'Not useful', handlers.toggleNotUseful, 'link', { 'aria-expanded': 'false', 'aria-controls': 'dd-feedback-form' })
    ]);
  }

  function header(title, badge) {
    return h('header', { class: 'dd-head' }, [h('h1', { class: 'dd-title', text: title }), badge]);
  }

  function drafted(draft, handlers) {
    const band = draft.confidence_band || {};
    const badge = label(bandText(draft), BAND_COLOR[band.label] || 'grey', 'dd-band');
    const precision = precisionText(band);
    const meta = (draft.revision > 0 ? 'Redrafted (revision ' + (draft.revision + 1) + ')' : 'Drafted') +
      (draft.kind === 'llm_fallback' ? ' · model unavailable, built from past replies' : '');
    return [
      header('Suggested reply', badge),
      precision ? h('p', { class: 'dd-muted dd-precision', text: precision }) : null,
      h('p', { class: 'dd-muted dd-meta', text: meta }),
      STATUS_NOTE[draft.status] ? h('p', { class: 'dd-note', role: 'note', text: STATUS_NOTE[draft.status] }) : null,
      flagList(draft.flags),
      h('div', { id: 'dd-draft-text', class: 'dd-draft', tabindex: 0, role: 'region', 'aria-label': 'Draft text', text: draft.text }),
      draftActions(draft, handlers),
      feedbackForm(handlers),
      h('p', { id: 'dd-notice', class: 'dd-notice', role: 'status' }),
      sourceList(draft.sources, 'Sources')
    ];
  }

  function abstained(data, handlers) {
    const draft = data.draft;
    return [
      header('No draft', label('Abstained', 'grey', 'dd-band')),
      h('p', { class: 'dd-reason', text: 'deskdraft did not find a reliable answer for this message.' }),
      h('p', { class: 'dd-muted dd-abstain-reason', text: draft.abstain_reason || data.reason || '' }),
      h('div', { class: 'dd-actions' }, [button('dd-redraft', 'Redraft', handlers.redraft, 'secondary')]),
      h('p', { id: 'dd-notice', class: 'dd-notice', role: 'status' }),
      sourceList(draft.sources, 'Closest sources')
    ];
  }

  function drafting(text) {
    return [
      header('Drafting…', null),
      h('p', { class: 'dd-loading' }, [spinner(), document.createTextNode(' ' + text)])
    ];
  }

  function notDrafted(data, handlers) {
    return [
      header('Not drafted yet', null),
      h('p', { class: 'dd-reason', text: data.reason || 'deskdraft has not drafted a reply for this ticket yet.' }),
      h('div', { class: 'dd-actions' }, [button('dd-redraft', 'Draft now', handlers.redraft, 'primary')]),
      h('p', { id: 'dd-notice', class: 'dd-notice', role: 'status' })
    ];
  }

  function answered(data) {
    return [
      header('Already answered', null),
      h('p', { class: 'dd-reason', text: data.reason || "The customer's latest message already has a public reply." })
    ];
  }

  function problem(title, text, hint, handlers) {
    return [
      header(title, null),
      h('p', { class: 'dd-reason', text: text }),
      hint ? h('p', { class: 'dd-muted', text: hint }) : null,
      h('div', { class: 'dd-actions' }, [button('dd-retry', 'Try again', handlers.retry, 'secondary')])
    ];
  }

  window.DeskdraftView = {
    h: h,
    label: label,
    drafted: drafted,
    abstained: abstained,
    drafting: drafting,
    notDrafted: notDrafted,
    answered: answered,
    problem: problem,
    ageText: ageText
  };
})();
