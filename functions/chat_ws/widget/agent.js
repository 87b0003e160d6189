/* Helpline agent console: the script of the local stack's /agent page.
 *
 * Pick an agent (GET /api/agents), get a token (POST /api/agents/token), connect with
 * ?agent_token=, then go online or away, accept waiting chats, answer several
 * customers in tabs, write internal notes, transfer and close. The protocol is
 * docs/chat-protocol.md. Everything customers wrote reaches the DOM as text nodes,
 * never through innerHTML.
 */
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const STORE = "helpline-agent";

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const k in props || {}) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids) if (kid != null && kid !== false) el.append(kid);
    return el;
  }
  const clear = (el) => { while (el.firstChild) el.firstChild.remove(); };
  const newId = () => {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "a" + Array.from(bytes, (b) => (b + 256).toString(16).slice(1)).join("");
  };
  const time = (at) => {
    const d = new Date(at);
    return at && !isNaN(d) ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  };
  function waitedFor(since) {
    const minutes = Math.floor((Date.now() - new Date(since)) / 60000);
    if (!since || isNaN(minutes)) return "";
    return minutes < 1 ? "just now" : minutes < 60 ? minutes + " min" : Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }
  function say(text, urgent) {
    const region = $(urgent ? "ag-alert" : "ag-live");
    region.append(h("p", {}, text));
    while (region.childNodes.length > 4) region.firstChild.remove();
  }
  function problem(text) {
    $("ag-error").textContent = text;
    $("ag-error").hidden = !text;
    if (text) say(text, true);
  }

  // -- state ----------------------------------------------------------------------------
  let agents = [], me = null, token = "", wsUrl = "";
  let ws = null, ready = false, attempt = 0, retryTimer = 0, openedAt = 0, signedOut = true;
  let lastStatus = null; // the last status frame applied, sent again after a reconnect
  let lastAssigned = ""; // a history frame without session_id follows its `assigned`
  const chats = new Map(); // session_id -> chat
  const waiting = new Map(); // team ("" when the frame names none) -> chats waiting
  const pending = new Map(); // client_id -> {sid, frame, li}
  let seq = 0, activeSid = "";

  // -- signing in -----------------------------------------------------------------------
  fetch("/api/agents").then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)))).then((list) => {
    agents = Array.isArray(list) ? list : [];
    const select = $("ag-agent");
    clear(select);
    select.append(h("option", { value: "" }, agents.length ? "Choose an agent…" : "No agents configured"));
    for (const a of agents) select.append(h("option", { value: a.email }, a.name + " <" + a.email + "> · " + (a.languages || []).join(", ")));
    let remembered = "";
    try { remembered = sessionStorage.getItem(STORE) || ""; } catch (e) { /* storage off */ }
    if (remembered && agents.some((a) => a.email === remembered)) signIn(remembered);
  }).catch((err) => problemAtSignIn("Could not load the agents: " + err.message));

  function problemAtSignIn(text) {
    const note = h("p", { id: "ag-signin-error" }, text);
    const old = $("ag-signin-error");
    if (old) old.replaceWith(note); else $("ag-signin").append(note);
    say(text, true);
  }

  $("ag-signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("ag-agent").value) signIn($("ag-agent").value);
  });

  function signIn(email) {
    me = agents.find((a) => a.email === email) || null;
    if (!me) return;
    signedOut = false;
    try { sessionStorage.setItem(STORE, email); } catch (e) { /* storage off */ }
    $("ag-signin").hidden = true;
    $("ag-console").hidden = false;
    $("ag-me").textContent = me.name + " <" + me.email + ">";
    const box = $("ag-languages");
    box.querySelectorAll("label").forEach((l) => l.remove());
    for (const code of me.languages || []) {
      box.append(h("label", {}, h("input", { type: "checkbox", name: "language", value: code, checked: true }), " " + code));
    }
    $("ag-max").max = String(me.max_chats);
    $("ag-max").value = String(me.max_chats);
    fillTransferTargets();
    $("ag-me").focus();
    connect();
  }

  $("ag-signout").addEventListener("click", () => {
    signedOut = true;
    try { sessionStorage.removeItem(STORE); } catch (e) { /* storage off */ }
    if (ready) send({ action: "status", status: "away" });
    const s = ws;
    ws = null; ready = false;
    clearTimeout(retryTimer);
    if (s) s.close();
    location.reload();
  });

  // -- the connection -------------------------------------------------------------------
  function setConn(text) { $("ag-conn").textContent = text; }
  function connect() {
    clearTimeout(retryTimer); retryTimer = 0;
    setConn(attempt ? "Reconnecting…" : "Connecting…");
    fetch("/api/agents/token", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email: me.email }),
    }).then((r) => r.json().then((b) => {
      if (!r.ok || !b.token || !b.ws_url) throw new Error(b.reason || "HTTP " + r.status);
      token = b.token; wsUrl = b.ws_url;
      open();
    })).catch((err) => { problem("Could not get an agent token: " + err.message); dropped(); });
  }
  function open() {
    const s = new WebSocket(wsUrl + (wsUrl.indexOf("?") < 0 ? "?" : "&") + "agent_token=" + encodeURIComponent(token));
    ws = s;
    s.onopen = () => {
      ready = true; openedAt = Date.now();
      setConn("Connected");
      problem("");
      if (lastStatus) send(lastStatus); // a new connection starts away
      for (const p of pending.values()) send(p.frame); // unacked replies, same client_id
    };
    s.onmessage = (e) => {
      if (s !== ws) return;
      let f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      if (f && typeof f === "object") handle(f);
    };
    s.onclose = () => { if (s === ws) dropped(); };
  }
  function dropped() {
    if (openedAt && Date.now() - openedAt > 10000) attempt = 0;
    ws = null; ready = false; openedAt = 0;
    if (signedOut) return;
    if (attempt >= 10) {
      setConn("Disconnected");
      const again = h("button", { type: "button", class: "ag-quiet", onclick: () => { again.remove(); attempt = 0; connect(); } }, "Reconnect");
      $("ag-conn").after(" ", again);
      say("Disconnected from the chat server.", true);
      return;
    }
    const base = Math.min(30000, 500 * 2 ** attempt++);
    setConn("Reconnecting…");
    retryTimer = setTimeout(connect, base / 2 + Math.random() * base / 2);
  }
  function send(frame) {
    if (!ready || !ws) { problem("Not connected: wait for the connection to come back."); return false; }
    ws.send(JSON.stringify(frame));
    return true;
  }

  // -- status ---------------------------------------------------------------------------
  $("ag-status-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const languages = Array.from(form.querySelectorAll("input[name=language]:checked"), (i) => i.value);
    const max = parseInt($("ag-max").value, 10);
    const frame = { action: "status", status: form.querySelector("input[name=status]:checked").value, languages };
    if (!isNaN(max)) frame.max_chats = max;
    if (send(frame)) lastStatus = frame;
  });
  let shownStatus = null;
  function showStatus(f) {
    shownStatus = f;
    const radio = document.querySelector('#ag-status-form input[value="' + (f.status === "online" ? "online" : "away") + '"]');
    if (radio) radio.checked = true;
    say(statusLine());
  }
  // `active` is the server's count when it sent the status; chats accepted since count too
  function statusLine() {
    const f = shownStatus;
    if (!f) return "";
    let open = 0;
    for (const chat of chats.values()) if (!chat.ended) open++;
    const text = (f.status === "online" ? "Online" : "Away") + " · " + Math.max(open, f.active || 0) + " of " +
      f.max_chats + " chats · " + (f.languages || []).join(", ");
    $("ag-status-text").textContent = text;
    return text;
  }

  // -- waiting chats --------------------------------------------------------------------
  function showWaiting() {
    const list = $("ag-waiting");
    const hadFocus = list.contains(document.activeElement);
    clear(list);
    const all = [];
    for (const group of waiting.values()) all.push(...group);
    all.sort((a, b) => String(a.waiting_since).localeCompare(String(b.waiting_since)));
    for (const c of all) {
      if (chats.has(c.session_id) && !chats.get(c.session_id).ended) continue;
      const what = [c.language, c.team, c.overflowed ? "overflowed" : ""].filter(Boolean).join(" · ");
      list.append(h("li", {},
        h("strong", {}, what || "chat"), " ", h("span", { class: "muted" }, "waiting " + waitedFor(c.waiting_since)),
        c.preview ? h("p", { class: "ag-preview", dir: "auto" }, c.preview) : null,
        h("button", { type: "button", "aria-label": "Accept the " + (what || "") + " chat", onclick: () => send({ action: "accept", session_id: c.session_id }) }, "Accept")));
    }
    $("ag-waiting-empty").hidden = list.childElementCount > 0;
    if (hadFocus) $("ag-waiting-title").focus(); // the button that had it is gone
  }
  setInterval(() => { if (waiting.size) showWaiting(); }, 30000);

  // -- chats ----------------------------------------------------------------------------
  function chatFor(sid, info) {
    let chat = chats.get(sid);
    if (!chat) {
      chat = buildChat(sid);
      chats.set(sid, chat);
    }
    if (info) describe(chat, info);
    return chat;
  }
  function buildChat(sid) {
    const n = ++seq;
    const chat = { sid, ids: new Map(), ended: false, unread: 0, typingOn: false, typingAt: 0, typingStop: 0, hideTyping: 0 };
    chat.badge = h("span", { class: "ag-badge", hidden: true });
    chat.label = h("span", {}, "Visitor");
    chat.tab = h("button", { type: "button", role: "tab", id: "ag-tab-" + n, "aria-controls": "ag-panel-" + n, "aria-selected": "false", tabindex: "-1", onclick: () => select(sid, false) }, chat.label, chat.badge);
    chat.heading = h("h3", {}, "Visitor");
    chat.facts = h("p", { class: "muted" });
    chat.endedEl = h("p", { class: "ag-ended", hidden: true });
    chat.log = h("ol", { class: "ag-log", "aria-label": "Conversation", tabindex: "0" });
    chat.typing = h("p", { class: "ag-typing" });
    const textId = "ag-text-" + n, noteId = "ag-notebox-" + n;
    chat.text = h("textarea", { id: textId, rows: "3" });
    chat.noteBox = h("input", { type: "checkbox", id: noteId });
    chat.sendBtn = h("button", { type: "submit" }, "Send");
    chat.textLabel = h("label", { class: "ag-block", for: textId }, "Reply to the customer");
    chat.compose = h("form", { class: "ag-compose", onsubmit: (e) => { e.preventDefault(); reply(chat); } },
      chat.textLabel, chat.text,
      h("div", { class: "ag-row" }, h("label", { for: noteId }, chat.noteBox, " Internal note (never sent to the customer)"), chat.sendBtn));
    chat.text.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); reply(chat); }
    });
    chat.text.addEventListener("input", () => typed(chat));
    chat.noteBox.addEventListener("change", () => {
      const noting = chat.noteBox.checked;
      chat.compose.classList.toggle("ag-noting", noting);
      chat.textLabel.textContent = noting ? "Internal note (only agents see it)" : "Reply to the customer";
      chat.sendBtn.textContent = noting ? "Add note" : "Send";
      if (noting) stopTyping(chat);
    });
    const teamId = "ag-team-" + n, agentId = "ag-to-" + n;
    chat.team = h("input", { id: teamId, type: "text", autocomplete: "off" });
    chat.to = h("select", { id: agentId, class: "ag-transfer-agent" });
    chat.transfer = h("form", { class: "ag-row", onsubmit: (e) => { e.preventDefault(); transfer(chat); } },
      h("div", {}, h("label", { class: "ag-block", for: teamId }, "Transfer to a team"), chat.team),
      h("div", {}, h("label", { class: "ag-block", for: agentId }, "or to an agent"), chat.to),
      h("button", { type: "submit", class: "ag-quiet" }, "Transfer"));
    chat.closeBtn = h("button", { type: "button", class: "ag-quiet", onclick: () => closeOrDismiss(chat) }, "Close chat");
    chat.panel = h("div", { role: "tabpanel", id: "ag-panel-" + n, "aria-labelledby": "ag-tab-" + n, hidden: true },
      chat.heading, chat.facts, chat.endedEl, chat.log, chat.typing, chat.compose,
      h("div", { class: "ag-actions" }, chat.transfer, chat.closeBtn));
    $("ag-tabs").append(chat.tab);
    $("ag-panels").append(chat.panel);
    $("ag-chats-empty").hidden = true;
    fillTransferTargets(chat);
    return chat;
  }
  function describe(chat, f) {
    const c = f.customer || {};
    const name = c.name || "Visitor";
    chat.name = name;
    chat.label.textContent = name + (f.language ? " (" + f.language + ")" : "");
    chat.heading.textContent = name;
    clear(chat.facts);
    const facts = [];
    if (f.language) facts.push("language " + f.language);
    if (c.locale) facts.push("locale " + c.locale);
    chat.facts.append(facts.join(" · "));
    const page = c.page || {};
    // the page address comes from the customer's browser: only http(s) becomes a link
    if (page.url && /^https?:\/\//i.test(page.url)) {
      chat.facts.append(" · on ", h("a", { href: page.url, target: "_blank", rel: "noopener noreferrer" }, page.title || page.url));
    } else if (page.title) chat.facts.append(" · on " + page.title);
    if (f.ticket_id) chat.facts.append(" · ", h("a", { href: "/tickets/" + encodeURIComponent(f.ticket_id) }, "ticket " + f.ticket_id));
  }
  function fillTransferTargets(only) {
    for (const chat of only ? [only] : chats.values()) {
      clear(chat.to);
      chat.to.append(h("option", { value: "" }, "—"));
      for (const a of agents) if (!me || a.email !== me.email) chat.to.append(h("option", { value: a.email }, a.name));
    }
  }
  function select(sid, focusComposer) {
    activeSid = sid;
    for (const [id, chat] of chats) {
      const on = id === sid;
      chat.tab.setAttribute("aria-selected", String(on));
      chat.tab.tabIndex = on ? 0 : -1;
      chat.panel.hidden = !on;
      if (on) { chat.unread = 0; badge(chat); chat.log.scrollTop = chat.log.scrollHeight; }
    }
    const chat = chats.get(sid);
    if (focusComposer && chat && !chat.ended) chat.text.focus();
  }
  // arrow keys move between tabs, as in every tab list
  $("ag-tabs").addEventListener("keydown", (e) => {
    const ids = Array.from(chats.keys());
    const at = ids.indexOf(activeSid);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: ids.length - 1 }[e.key];
    if (to === undefined || !ids.length) return;
    e.preventDefault();
    const sid = ids[(to + ids.length) % ids.length];
    select(sid, false);
    chats.get(sid).tab.focus();
  });
  function badge(chat) {
    chat.badge.hidden = !chat.unread;
    chat.badge.textContent = chat.unread ? String(chat.unread) : "";
    chat.badge.setAttribute("aria-label", chat.unread + " unread");
  }

  function show(chat, m) {
    if (!m || !m.id || chat.ids.has(m.id)) return null;
    const mine = m.from === "agent" && (!m.name || m.name === me.name);
    const who = m.from === "customer" ? chat.name || "Visitor"
      : m.from === "note" ? "Internal note · " + (m.name || me.name)
      : m.from === "bot" ? "Bot answer" : m.from === "helpline" ? "Helpline (automatic)" : m.name || "Agent";
    const li = h("li", { class: m.from === "note" ? "ag-note" : mine ? "ag-mine" : m.from === "customer" ? "ag-customer" : "ag-other" },
      h("span", { class: "ag-who" }, who + (time(m.at) ? " · " + time(m.at) : "")), h("p", { class: "ag-text", dir: "auto" }, String(m.text || "")));
    if (mine) li.append(h("span", { class: "ag-who ag-state" }, "Sent"));
    chat.log.append(li);
    chat.ids.set(m.id, li);
    chat.log.scrollTop = chat.log.scrollHeight;
    return li;
  }
  function system(chat, text) {
    chat.log.append(h("li", { class: "ag-system" }, text));
  }
  function reply(chat) {
    const text = chat.text.value;
    if (!text.trim() || chat.ended) return;
    const noting = chat.noteBox.checked;
    const cid = newId();
    const frame = { action: noting ? "note" : "message", session_id: chat.sid, text, client_id: cid };
    const li = h("li", { class: noting ? "ag-note" : "ag-mine" },
      h("span", { class: "ag-who" }, noting ? "Internal note · " + me.name : me.name), h("p", { class: "ag-text", dir: "auto" }, text),
      h("span", { class: "ag-who ag-state" }, "Sending…"));
    chat.log.append(li);
    chat.log.scrollTop = chat.log.scrollHeight;
    pending.set(cid, { sid: chat.sid, frame, li });
    chat.text.value = "";
    stopTyping(chat);
    send(frame); // when offline it goes out on reconnect, with the same client_id
  }
  function typed(chat) {
    if (chat.noteBox.checked || chat.ended || !ready) return;
    const now = Date.now();
    if (!chat.typingOn || now - chat.typingAt > 3000) {
      chat.typingOn = true; chat.typingAt = now;
      send({ action: "typing", session_id: chat.sid, typing: true });
    }
    clearTimeout(chat.typingStop);
    chat.typingStop = setTimeout(() => stopTyping(chat), 4000);
  }
  function stopTyping(chat) {
    clearTimeout(chat.typingStop);
    if (chat.typingOn && ready) send({ action: "typing", session_id: chat.sid, typing: false });
    chat.typingOn = false;
  }
  function transfer(chat) {
    const team = chat.team.value.trim(), agent = chat.to.value;
    if (!team === !agent) { problem("Transfer to a team or to an agent: fill in exactly one."); return; }
    if (send(team ? { action: "transfer", session_id: chat.sid, team } : { action: "transfer", session_id: chat.sid, agent })) {
      system(chat, "Transfer to " + (team || agent) + " requested…");
    }
  }
  function closeOrDismiss(chat) {
    if (!chat.ended) { send({ action: "close", session_id: chat.sid }); return; }
    chat.tab.remove(); chat.panel.remove();
    chats.delete(chat.sid);
    const next = chats.keys().next().value;
    if (next) { select(next, false); chats.get(next).tab.focus(); }
    else { activeSid = ""; $("ag-chats-empty").hidden = false; $("ag-chats-title").focus(); }
    showWaiting();
  }
  function ended(chat, by) {
    chat.ended = true;
    const text = by === "transfer" ? "Transferred: this chat is no longer yours."
      : by === "customer" ? "The customer ended the chat." : by === "timeout" ? "The chat ended after a long silence." : "Chat closed.";
    chat.endedEl.textContent = text;
    chat.endedEl.hidden = false;
    chat.text.disabled = true; chat.sendBtn.disabled = true; chat.noteBox.disabled = true;
    chat.transfer.hidden = true;
    chat.closeBtn.textContent = "Dismiss";
    chat.typing.textContent = "";
    say((chat.name || "Visitor") + ": " + text);
    statusLine();
  }

  // -- server frames --------------------------------------------------------------------
  function handle(f) {
    const chat = f.session_id ? chats.get(f.session_id) : null;
    switch (f.type) {
      case "status": return showStatus(f);
      case "waiting":
        waiting.set(f.team || "", Array.isArray(f.chats) ? f.chats : []);
        if (!f.team) for (const k of Array.from(waiting.keys())) if (k) waiting.delete(k);
        return showWaiting();
      case "assigned": {
        const fresh = !chats.has(f.session_id);
        const c = chatFor(f.session_id, f);
        lastAssigned = f.session_id;
        if (c.ended) { c.ended = false; c.endedEl.hidden = true; c.text.disabled = c.sendBtn.disabled = c.noteBox.disabled = false; c.transfer.hidden = false; c.closeBtn.textContent = "Close chat"; }
        if (fresh) { say("New chat with " + c.name + "."); select(f.session_id, !activeSid || document.activeElement === document.body || $("ag-waiting").contains(document.activeElement) || document.activeElement === $("ag-waiting-title")); }
        showWaiting();
        statusLine();
        return;
      }
      case "history": {
        const c = chatFor(f.session_id || lastAssigned);
        for (const m of f.messages || []) show(c, m);
        return;
      }
      case "message": {
        if (!f.session_id) return;
        const c = chatFor(f.session_id);
        if (!show(c, f.message)) return;
        c.typing.textContent = "";
        if (f.message.from === "customer") {
          say((c.name || "Visitor") + ": " + f.message.text);
          if (f.session_id !== activeSid || document.visibilityState === "hidden") { c.unread++; badge(c); }
        }
        return;
      }
      case "ack": {
        const p = pending.get(f.client_id);
        if (!p) return;
        pending.delete(f.client_id);
        const c = chats.get(p.sid);
        const state = p.li.querySelector(".ag-state");
        if (state) state.textContent = p.frame.action === "note" ? "Saved" : "Sent";
        if (f.message && time(f.message.at)) p.li.firstChild.textContent += " · " + time(f.message.at);
        if (c && f.message && f.message.id) c.ids.set(f.message.id, p.li);
        return;
      }
      case "typing":
        if (chat && f.from === "customer") {
          clearTimeout(chat.hideTyping);
          chat.typing.textContent = f.typing === false ? "" : (chat.name || "Visitor") + " is typing…";
          if (f.typing !== false) chat.hideTyping = setTimeout(() => { chat.typing.textContent = ""; }, 20000);
        }
        return;
      case "read":
        if (chat) {
          const upTo = chat.ids.get(f.message_id);
          for (const [, li] of chat.ids) {
            const state = li.querySelector(".ag-state");
            if (state && li.classList.contains("ag-mine")) state.textContent = "Read";
            if (li === upTo) break;
          }
        }
        return;
      case "closed": if (chat) ended(chat, f.by); return;
      case "error": return failed(f);
    }
  }
  function failed(f) {
    const p = f.client_id && pending.get(f.client_id);
    if (p) {
      pending.delete(f.client_id);
      const state = p.li.querySelector(".ag-state");
      if (state) state.textContent = "Not sent (" + f.code + ")";
    }
    const hints = { not_online: "Go online first.", no_room: "No room: that agent is offline or full.", forbidden: "That chat is not yours.", not_found: "That chat no longer exists." };
    problem((f.action ? f.action + ": " : "") + (hints[f.code] || f.reason || f.code || "error"));
  }
})();
