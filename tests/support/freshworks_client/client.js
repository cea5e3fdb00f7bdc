/* Stand-in of the Freshworks platform 3.0 front-end client (what `{{{appclient}}}` loads) for
   browser tests. The harness (tests/support/freshworks_client.rs) serves it in place of the
   placeholder, answers /__freshworks/state with the ticket, agent and non-secure iparams, and
   plays the platform's request proxy at /__freshworks/invoke.

   Names and shapes follow the platform's documentation and official samples:
   - `app.initialized()` resolves the client; `client.events.on("app.activated", cb)`, fired when
     the agent opens a ticket-sidebar app and again on each ticket they move to.
     (freshworks/marketplace-sample-apps Training/create_ticket/create_ticket/app/app.js;
     freshworks-developers/freshworks-platform3 skills/freshworks_app_dev_skill/references/
     architecture/freshdesk_app_lifecycle_events.md)
   - `client.data.get("ticket")` -> `{ticket: {id, subject, description, description_text, status,
     priority, ...}}`; `client.data.get("loggedInUser")` -> `{loggedInUser: {id, contact: {name,
     email}, ...}}`. (https://freshworks.dev/docs/app-sdk/v3.0/support_ticket/front-end-apps/data-method ;
     https://developers.freshdesk.com/v2/docs/data-api/ ; interface-method-samples
     app/scripts/interface-kit.js reads `user.loggedInUser.id`)
   - `client.iparams.get()` -> the non-secure installation parameters only; `get("key")` ->
     `{key: value}` (request-method-samples freshdesk/app/scripts/app.js:
     `let { subdomain } = await client.iparams.get('subdomain')`).
     Secure iparams "can only be retrieved through the Request method, as part of HTTPS request
     headers". (https://developers.freshworks.com/docs/app-sdk/v3.0/contact/app-settings/app-installation-page/installation-page)
   - `client.request.invokeTemplate(name, {context, body})` resolves `{status, headers, response}`
     with the body as a string, and rejects on a non-2xx status. The rejection's exact shape is not
     public; the platform's own errors carry a status (400 substitution failure, 429, 502
     connection/TLS error, 504 timeout), so this rejects with `{status, headers, response,
     errorSource, attempts}`. (https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/advanced-interfaces/request-method/;
     request-method-samples readme.md "Response object", "Common error codes")
   - `client.interface.trigger(action, payload)` returns a promise; `("click", {id: "reply", text})`
     opens the reply editor with the text; `("showNotify", {type, title, message})`.
     (https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/front-end-apps/interface-methods/;
     interface-method-samples app/scripts/interface-kit.js `replyWithText`, `showNotify`)
   - `client.instance.resize({height: "500px"})`, at most 700px. (freshworks-platform3
     references/api/instance-method-docs.md; interface-method-samples app/scripts/sidebar.js)

   Test hooks: every trigger is recorded in `window.__interfaceCalls`, every resize in
   `window.__resizeCalls`; `window.__freshworks.switchTicket(id)` moves the "agent" to another
   ticket and fires app.activated again; `window.__freshworks.activate()` fires it again. */
(function () {
  'use strict';

  window.__interfaceCalls = [];
  window.__resizeCalls = [];
  const handlers = {};
  let ticketId = new URLSearchParams(window.location.search).get('ticket');

  async function state() {
    const response = await fetch('/__freshworks/state?ticket=' + encodeURIComponent(ticketId));
    if (!response.ok) throw { status: response.status, message: await response.text() };
    return response.json();
  }

  function fire(name) {
    (handlers[name] || []).forEach(function (callback) {
      setTimeout(callback, 0);
    });
  }

  async function invokeTemplate(name, options) {
    const args = options || {};
    const response = await fetch('/__freshworks/invoke', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: name, context: args.context || {}, body: args.body === undefined ? null : args.body })
    });
    const result = await response.json();
    if (result.status >= 200 && result.status < 300) {
      return { status: result.status, headers: result.headers, response: result.response };
    }
    throw {
      status: result.status,
      headers: result.headers,
      response: result.response,
      errorSource: result.errorSource,
      attempts: result.attempts
    };
  }

  const client = {
    events: {
      on: function (name, callback) {
        (handlers[name] = handlers[name] || []).push(callback);
        // The sidebar is open in these tests: activation follows the handler's registration.
        if (name === 'app.activated') setTimeout(callback, 0);
      }
    },
    data: {
      get: async function (name) {
        const current = await state();
        if (name === 'ticket') return { ticket: current.ticket };
        if (name === 'loggedInUser') return { loggedInUser: current.loggedInUser };
        throw { status: 400, message: 'stand-in: unsupported data name ' + name };
      }
    },
    iparams: {
      get: async function (key) {
        const iparams = (await state()).iparams;
        if (key === undefined) return iparams;
        const one = {};
        one[key] = iparams[key];
        return one;
      }
    },
    request: { invokeTemplate: invokeTemplate },
    interface: {
      trigger: async function (action, payload) {
        window.__interfaceCalls.push({ action: action, payload: payload });
        return { success: true };
      }
    },
    instance: {
      resize: async function (size) {
        window.__resizeCalls.push(size);
        return { success: true };
      }
    }
  };

  window.app = {
    initialized: function () {
      return Promise.resolve(client);
    }
  };

  window.__freshworks = {
    activate: function () {
      fire('app.activated');
    },
    switchTicket: function (id) {
      ticketId = String(id);
      fire('app.activated');
    }
  };
})();
