/* deskdraft ticket-sidebar app (Freshworks platform 3.0, no build step).
   Every call to deskdraft goes through the platform's request method
   (client.request.invokeTemplate with the templates of config/requests.json): the secure app
   token never reaches this page, and the browser's CORS rules don't apply to the proxied call.
   Interface, data, iparams and instance methods are the documented front-end client methods. */
(function () {
  'use strict';

  const View = window.DeskdraftView;
  const POLL_EVERY_MS = 2000;
  const POLL_FOR_MS = 90000;
  const RATE_LIMITED_WAIT_MS = 10000;

  const state = {
    client: null,
    generation: 0, // bumped on every activation: stale requests and polls stop rendering
    ticketId: null,
    agent: null,
    draft: null,
    inserted: new Set()
  };

  const root = () => document.getElementById('app');
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function announce(text) {
    document.getElementById('announcer').textContent = text;
  }

  function resize() {
    const height = Math.min(700, Math.ceil(document.documentElement.scrollHeight) + 4);
    // The sidebar grows up to 700px (the documented maximum); past it the page scrolls.
    state.client.instance.resize({ height: height + 'px' }).catch(function (error) {
      console.info('deskdraft: resize failed', error);
    });
  }

  function show(stateName, nodes, busy) {
    const main = root();
    main.dataset.state = stateName;
    main.dataset.revision = state.draft ? String(state.draft.revision) : '';
    main.setAttribute('aria-busy', busy ? 'true' : 'false');
    main.replaceChildren.apply(main, nodes.filter(Boolean));
    requestAnimationFrame(resize);
  }

  function notice(text, kind) {
    const el = document.getElementById('dd-notice');
    if (!el) return;
    el.textContent = text;
    el.className = 'dd-notice' + (kind ? ' dd-notice--' + kind : '');
  }

  function notify(type, message) {
    // showNotify: type info|success|warning|danger|alert, message up to 100 characters.
    return state.client.interface
      .trigger('showNotify', { type: type, title: 'deskdraft', message: message.slice(0, 100) })
      .catch(function (error) {
        console.info('deskdraft: notification failed', error);
      });
  }

  /* ---- deskdraft API through the request templates ---- */

  async function call(template, context, body) {
    const options = { context: context };
    if (body !== undefined) options.body = JSON.stringify(body);
    const result = await state.client.request.invokeTemplate(template, options);
    return result.response ? JSON.parse(result.response) : {};
  }

  function errorMessage(error) {
    try {
      const parsed = JSON.parse(error.response);
      if (parsed && parsed.error) return parsed.error;
    } catch (_) {
      /* not JSON: fall through */
    }
    return 'HTTP ' + (error && error.status);
  }

  function classify(error) {
    const status = error && error.status;
    if (status === 401 || status === 403) return 'unauthorized';
    if (status === 429) return 'rate_limited';
    if (status === 404 || status === 400 || status === 409) return 'refused';
    return 'unreachable';
  }

  /* ---- rendering the ticket's state ---- */

  // Button handlers: their promises are always handled.
  function guarded(action) {
    return function (event) {
      Promise.resolve(action(event)).catch(function (error) {
        console.info('deskdraft: action failed', error);
        notice('Something went wrong; try again.', 'error');
      });
    };
  }

  const handlers = {
    insert: guarded(() => insert()),
    redraft: guarded(() => redraft()),
    retry: guarded(() => load(state.generation)),
    toggleNotUseful: () => toggleNotUseful(),
    cancelNotUseful: () => toggleNotUseful(false),
    submitNotUseful: guarded((event) => submitNotUseful(event))
  };

  function render(data) {
    state.draft = data.draft || null;
    switch (data.state) {
      case 'drafted':
        return show('drafted', View.drafted(data.draft, handlers));
      case 'abstained':
        return show('abstained', View.abstained(data, handlers));
      case 'drafting':
        return show('drafting', View.drafting(data.reason || 'deskdraft is writing a draft for this ticket.'), true);
      case 'answered':
        return show('answered', View.answered(data));
      default:
        return show('not_drafted', View.notDrafted(data, handlers));
    }
  }

  async function hostName() {
    try {
      const iparams = await state.client.iparams.get();
      return iparams.deskdraft_host || 'the deskdraft server';
    } catch (_) {
      return 'the deskdraft server';
    }
  }

  async function renderProblem(error) {
    const kind = classify(error);
    const host = await hostName();
    if (kind === 'unauthorized') {
      return show('unauthorized', View.problem('deskdraft refused the app token',
        'deskdraft at ' + host + ' did not accept the app token.',
        "An admin can set it in the app's settings: it must equal DESKDRAFT_APP_TOKEN on the server.", handlers));
    }
    if (kind === 'rate_limited') {
      return show('unreachable', View.problem('Too many requests', 'The app reached its request limit; try again in a minute.', null, handlers));
    }
    return show('unreachable', View.problem('deskdraft is unreachable',
      'deskdraft at ' + host + ' is unreachable (' + errorMessage(error) + ').',
      'Check that it is running and reachable from Freshdesk over HTTPS.', handlers));
  }

  async function load(generation) {
    try {
      const data = await call('getDraft', { ticket_id: state.ticketId });
      if (generation !== state.generation) return;
      render(data);
      if (data.state === 'drafting') await waitForDraft(generation, null);
    } catch (error) {
      if (generation === state.generation) await renderProblem(error);
    }
  }

  /* ---- waiting for a (new) draft after a redraft or while drafting ---- */

  function isNewer(data, previousRevision) {
    if (!data.draft || data.state === 'drafting') return false;
    return previousRevision === null || data.draft.revision > previousRevision;
  }

  async function waitForDraft(generation, previousRevision) {
    const deadline = Date.now() + POLL_FOR_MS;
    while (Date.now() < deadline) {
      let wait = POLL_EVERY_MS;
      try {
        const data = await call('getDraft', { ticket_id: state.ticketId });
        if (generation !== state.generation) return;
        if (isNewer(data, previousRevision) || data.state === 'answered') return render(data);
        if (data.job && data.job.state === 'dead') {
          return show('unreachable', View.problem('Drafting failed', 'deskdraft could not draft this ticket; it logged why.', null, handlers));
        }
      } catch (error) {
        if (classify(error) !== 'rate_limited') return renderProblem(error);
        wait = RATE_LIMITED_WAIT_MS;
      }
      await sleep(wait);
    }
    if (generation === state.generation) {
      show('drafting', View.problem('Still drafting', 'deskdraft has not finished yet.', 'Try again in a moment.', handlers));
    }
  }

  /* ---- actions ---- */

  async function insert() {
    const draft = state.draft;
    if (!draft) return;
    try {
      // Opens the reply editor with the text (interface method "click", id "reply").
      await state.client.interface.trigger('click', { id: 'reply', text: draft.text });
    } catch (error) {
      console.info('deskdraft: could not open the reply editor', error);
      notice('Could not open the reply editor. Copy the text instead.', 'error');
      return;
    }
    notice('Inserted into the reply editor. Review it before sending.', 'success');
    announce('Draft inserted into the reply editor');
    if (state.inserted.has(draft.id)) return;
    state.inserted.add(draft.id);
    try {
      await call('postFeedback', { draft_id: draft.id }, { kind: 'inserted', agent: state.agent });
    } catch (error) {
      console.info('deskdraft: could not record the insertion', error);
    }
  }

  async function redraft() {
    const generation = state.generation;
    const previousRevision = state.draft ? state.draft.revision : null;
    const body = state.agent ? { agent: state.agent } : {};
    try {
      await call('redraft', { ticket_id: state.ticketId }, body);
    } catch (error) {
      if (classify(error) === 'refused') {
        notice('Cannot redraft: ' + errorMessage(error), 'error');
        return;
      }
      await renderProblem(error);
      return;
    }
    announce('Redrafting');
    show('drafting', View.drafting('Writing a new draft. This can take up to a minute.'), true);
    await waitForDraft(generation, previousRevision);
  }

  function toggleNotUseful(open) {
    const form = document.getElementById('dd-feedback-form');
    const toggle = document.getElementById('dd-not-useful');
    if (!form || !toggle) return;
    const opening = open === undefined ? form.hidden : open;
    form.hidden = !opening;
    toggle.setAttribute('aria-expanded', String(opening));
    if (opening) document.getElementById('dd-reason').focus();
    else toggle.focus();
    resize();
  }

  function feedbackReason() {
    const reason = document.getElementById('dd-reason').value;
    const details = document.getElementById('dd-details').value.trim();
    if (!reason) return { error: 'Choose a reason.' };
    if (reason === 'Other' && !details) return { error: 'Describe what was wrong.' };
    return { reason: details ? reason + ': ' + details : reason };
  }

  async function submitNotUseful(event) {
    event.preventDefault();
    const draft = state.draft;
    const errorEl = document.getElementById('dd-feedback-error');
    const { reason, error } = feedbackReason();
    errorEl.textContent = error || '';
    if (error || !draft) return;
    const send = document.getElementById('dd-feedback-send');
    send.disabled = true;
    try {
      await call('postFeedback', { draft_id: draft.id }, { kind: 'not_useful', reason: reason, agent: state.agent });
    } catch (failure) {
      send.disabled = false;
      errorEl.textContent = 'Not recorded: ' + errorMessage(failure) + '. Try again.';
      return;
    }
    toggleNotUseful(false);
    const toggle = document.getElementById('dd-not-useful');
    toggle.textContent = 'Marked not useful';
    toggle.disabled = true;
    notice('Thanks: your feedback was recorded.', 'success');
    await notify('success', 'Feedback recorded: the draft was marked not useful.');
  }

  /* ---- lifecycle ---- */

  async function whoAmI() {
    try {
      const data = await state.client.data.get('loggedInUser');
      const contact = (data.loggedInUser && data.loggedInUser.contact) || {};
      return contact.email || contact.name || null;
    } catch (error) {
      console.info('deskdraft: no logged-in user', error);
      return null;
    }
  }

  // A ticket-sidebar app is activated when the agent opens it, and again on every ticket the
  // agent moves to: read the ticket anew each time.
  async function onActivated() {
    const generation = ++state.generation;
    show('loading', View.drafting('Loading deskdraft…'), true);
    try {
      const data = await state.client.data.get('ticket');
      if (generation !== state.generation) return;
      state.ticketId = data.ticket.id;
    } catch (error) {
      console.info('deskdraft: could not read the ticket', error);
      show('unreachable', View.problem('No ticket', 'The app could not read this ticket.', null, handlers));
      return;
    }
    state.agent = state.agent || (await whoAmI());
    await load(generation);
  }

  async function start() {
    try {
      state.client = await app.initialized();
    } catch (error) {
      console.info('deskdraft: the app client did not initialise', error);
      show('unreachable', View.problem('App failed to start', 'Reload the page to try again.', null, { retry: () => location.reload() }));
      return;
    }
    state.client.events.on('app.activated', onActivated);
  }

  document.addEventListener('DOMContentLoaded', function () {
    start().catch(function (error) {
      console.info('deskdraft: start failed', error);
    });
  });
})();
