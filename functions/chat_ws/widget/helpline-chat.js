/* Helpline chat widget: one file, no build step, no dependencies.
 *
 *   <script src="https://help.example/chat/widget.js" async></script>
 *
 * Options (data- attributes on that tag): data-api, the base URL of POST /chat/session
 * (default: the script's origin); data-locale (default: <html lang>, then the browser's);
 * data-title; data-position="left". Protocol: docs/chat-protocol.md. Text from the
 * server or the visitor reaches the DOM only as text nodes, never through innerHTML.
 */
(function () {
  "use strict";
  if (window.HelplineChat) return; // the tag was included twice

  // The widget's own words, as natives write them: for each language the same groups
  // as KEYS, the texts in a group separated by "|". {n} {t} {d} {e} are filled in.
  const KEYS = [
    "title unread hide end msg ph send",
    "open back closed reply reconn offline",
    "queue wait noagent joined typing",
    "you agent bot person sending sent read failed",
    "leave name email saved",
    "ended tr trok rateq star comment rates rated again",
    "eGen eLong eEmail",
    "coded codel newcode eCode eLimit",
  ].join(" ").split(" ");
  const STRINGS = {
    en: [
      "Chat with us|{n} unread|Minimise chat|End chat|Message|Write a message…|Send",
      "We're online|Back {t}|We're closed right now.|Expect a reply by {t}.|Reconnecting…|Can't connect right now.",
      "You're number {n} in line.|Estimated wait: {d}.|No one is online yet.|{n} joined the chat.|{n} is typing…",
      "You|Support|Automatic answer|Talk to a person|Sending…|Sent|Read|Not sent",
      "Leave your details and we'll reply by email.|Name|Email|Thanks! We'll reply to {e}.",
      "This chat has ended.|Email me a copy of this chat|We've sent the transcript to {e}.|How was this chat?|{n} out of 5|Comment (optional)|Send rating|Thanks for your feedback!|Start a new chat",
      "Something went wrong. Please try again.|This message is too long: at most {n} characters.|Please check the email address.",
      "We've sent a code to {e}. Type it here and we'll send the transcript.|Code|Send a new code|That code is not right, or no longer valid.|We can't send more emails for this chat.",
    ],
    es: [
      "Chatea con nosotros|{n} sin leer|Minimizar el chat|Terminar el chat|Mensaje|Escribe un mensaje…|Enviar",
      "Estamos en línea|Volvemos {t}|Ahora mismo estamos cerrados.|Te responderemos {t}.|Reconectando…|No podemos conectar ahora mismo.",
      "Tienes el puesto {n} en la cola.|Espera estimada: {d}.|Todavía no hay nadie conectado.|{n} se ha unido al chat.|{n} está escribiendo…",
      "Tú|Soporte|Respuesta automática|Hablar con una persona|Enviando…|Enviado|Leído|No enviado",
      "Déjanos tus datos y te responderemos por email.|Nombre|Correo electrónico|¡Gracias! Te responderemos en {e}.",
      "El chat ha terminado.|Envíame una copia de este chat|Hemos enviado la transcripción a {e}.|¿Qué tal ha ido este chat?|{n} de 5|Comentario (opcional)|Enviar valoración|¡Gracias por tu opinión!|Empezar un chat nuevo",
      "Algo ha fallado. Inténtalo de nuevo.|El mensaje es demasiado largo: como máximo {n} caracteres.|Revisa la dirección de correo.",
      "Hemos enviado un código a {e}. Escríbelo aquí y te enviaremos la transcripción.|Código|Enviar un código nuevo|Ese código no es correcto o ya no es válido.|No podemos enviar más correos para este chat.",
    ],
    fr: [
      "Discuter avec nous|non lus\u00a0: {n}|Réduire la discussion|Terminer la discussion|Message|Écrivez un message…|Envoyer",
      "Nous sommes en ligne|De retour {t}|Nous sommes fermés pour le moment.|Nous vous répondrons d'ici {t}.|Reconnexion…|Connexion impossible pour le moment.",
      "Vous êtes en position {n} dans la file d'attente.|Attente estimée\u00a0: {d}.|Personne n'est encore en ligne.|{n} a rejoint la discussion.|{n} est en train d'écrire…",
      "Vous|Service client|Réponse automatique|Parler à un conseiller|Envoi…|Envoyé|Lu|Non envoyé",
      "Laissez vos coordonnées, nous vous répondrons par e-mail.|Nom|E-mail|Merci\u00a0! Nous vous répondrons à {e}.",
      "La discussion est terminée.|Recevoir une copie de cette discussion par e-mail|La transcription a été envoyée à {e}.|Comment s'est passée cette discussion\u00a0?|{n} sur 5|Commentaire (facultatif)|Envoyer ma note|Merci pour votre avis\u00a0!|Nouvelle discussion",
      "Une erreur s'est produite. Veuillez réessayer.|Ce message est trop long\u00a0: {n}\u00a0caractères au maximum.|Vérifiez l'adresse e-mail.",
      "Nous avons envoyé un code à {e}. Saisissez-le ici et nous vous enverrons la transcription.|Code|Recevoir un nouveau code|Ce code est incorrect ou n'est plus valable.|Nous ne pouvons plus envoyer d'e-mails pour cette discussion.",
    ],
    de: [
      "Chatten Sie mit uns|{n} ungelesen|Chat minimieren|Chat beenden|Nachricht|Nachricht schreiben…|Senden",
      "Wir sind online|Wieder erreichbar: {t}|Wir sind gerade nicht erreichbar.|Antwort bis {t}.|Verbindung wird wiederhergestellt…|Gerade ist keine Verbindung möglich.",
      "Sie sind an Position {n} in der Warteschlange.|Geschätzte Wartezeit: {d}.|Noch ist niemand online.|{n} ist dem Chat beigetreten.|{n} schreibt…",
      "Sie|Support|Automatische Antwort|Mit einer Person sprechen|Wird gesendet…|Gesendet|Gelesen|Nicht gesendet",
      "Hinterlassen Sie Ihre Kontaktdaten, wir antworten per E-Mail.|Name|E-Mail-Adresse|Danke! Wir antworten an {e}.",
      "Der Chat wurde beendet.|Kopie dieses Chats per E-Mail erhalten|Das Chatprotokoll wurde an {e} gesendet.|Wie war dieser Chat?|{n} von 5|Kommentar (optional)|Bewertung senden|Danke für Ihr Feedback!|Neuen Chat starten",
      "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.|Die Nachricht ist zu lang: höchstens {n} Zeichen.|Bitte prüfen Sie die E-Mail-Adresse.",
      "Wir haben einen Code an {e} gesendet. Geben Sie ihn hier ein, dann senden wir Ihnen das Chatprotokoll.|Code|Neuen Code senden|Dieser Code ist falsch oder nicht mehr gültig.|Für diesen Chat können wir keine weiteren E-Mails senden.",
    ],
    pt: [
      "Fale conosco|não lidas: {n}|Minimizar o chat|Encerrar o chat|Mensagem|Escreva uma mensagem…|Enviar",
      "Estamos online|Voltamos {t}|Estamos fechados agora.|Responderemos até {t}.|Reconectando…|Não foi possível conectar agora.",
      "Sua posição na fila: {n}.|Espera estimada: {d}.|Ainda não há ninguém online.|{n} entrou no chat.|{n} está digitando…",
      "Você|Atendimento|Resposta automática|Falar com uma pessoa|Enviando…|Enviada|Lida|Não enviada",
      "Deixe seus dados e responderemos por e-mail.|Nome|E-mail|Obrigado! Responderemos para {e}.",
      "O chat foi encerrado.|Receber uma cópia desta conversa por e-mail|Enviamos a transcrição para {e}.|Como foi este atendimento?|{n} de 5|Comentário (opcional)|Enviar avaliação|Obrigado pela sua avaliação!|Iniciar um novo chat",
      "Algo deu errado. Tente novamente.|A mensagem é longa demais: no máximo {n} caracteres.|Confira o endereço de e-mail.",
      "Enviamos um código para {e}. Digite-o aqui e enviaremos a transcrição.|Código|Enviar um novo código|Esse código não está correto ou não é mais válido.|Não podemos enviar mais e-mails para esta conversa.",
    ],
    ru: [
      "Напишите нам|непрочитанных: {n}|Свернуть чат|Завершить чат|Сообщение|Напишите сообщение…|Отправить",
      "Мы на связи|Вернёмся {t}|Сейчас мы не работаем.|Ответим {t}.|Переподключение…|Сейчас не удаётся подключиться.",
      "Ваш номер в очереди: {n}.|Примерное ожидание: {d}.|Пока никого нет на связи.|В чате: {n}.|{n} печатает…",
      "Вы|Поддержка|Автоматический ответ|Связаться с оператором|Отправка…|Отправлено|Прочитано|Не отправлено",
      "Оставьте контакты — мы ответим по почте.|Имя|Электронная почта|Спасибо! Ответим на {e}.",
      "Чат завершён.|Прислать копию переписки на почту|Копия переписки отправлена на {e}.|Как прошёл разговор?|{n} из 5|Комментарий (необязательно)|Отправить оценку|Спасибо за отзыв!|Начать новый чат",
      "Что-то пошло не так. Попробуйте ещё раз.|Сообщение слишком длинное: не больше {n} символов.|Проверьте адрес электронной почты.",
      "Мы отправили код на {e}. Введите его здесь, и мы пришлём копию переписки.|Код|Прислать новый код|Код неверный или больше не действует.|Для этого чата больше нельзя отправить письма.",
    ],
    ar: [
      "تحدث معنا|رسائل غير مقروءة: {n}|تصغير نافذة المحادثة|إنهاء المحادثة|الرسالة|اكتب رسالة…|إرسال",
      "نحن متصلون الآن|نعود {t}|نحن خارج ساعات العمل حاليًا.|سنرد عليك قبل {t}.|جارٍ إعادة الاتصال…|تعذّر الاتصال حاليًا.",
      "ترتيبك في قائمة الانتظار: {n}.|مدة الانتظار المتوقعة: {d}.|لا يوجد أحد متصل بعد.|انضم {n} إلى المحادثة.|{n} يكتب…",
      "أنت|فريق الدعم|رد آلي|التحدث إلى موظف|جارٍ الإرسال…|أُرسلت|قُرئت|لم تُرسل",
      "اترك بياناتك وسنرد عليك بالبريد الإلكتروني.|الاسم|البريد الإلكتروني|شكرًا لك! سنرد عليك على {e}.",
      "انتهت المحادثة.|أرسل لي نسخة من هذه المحادثة بالبريد|أرسلنا نسخة المحادثة إلى {e}.|كيف كانت هذه المحادثة؟|{n} من 5|تعليق (اختياري)|إرسال التقييم|شكرًا على ملاحظاتك!|بدء محادثة جديدة",
      "حدث خطأ ما. يُرجى المحاولة مرة أخرى.|الرسالة طويلة جدًا: الحد الأقصى {n} حرف.|يُرجى التحقق من عنوان البريد الإلكتروني.",
      "أرسلنا رمزًا إلى {e}. اكتبه هنا وسنرسل إليك نسخة المحادثة.|الرمز|إرسال رمز جديد|هذا الرمز غير صحيح أو لم يعد صالحًا.|لا يمكننا إرسال المزيد من الرسائل لهذه المحادثة.",
    ],
    ja: [
      "チャットでお問い合わせ|未読{n}件|チャットを最小化|チャットを終了|メッセージ|メッセージを入力…|送信",
      "オンライン対応中|{t}に再開します|現在、営業時間外です。|{t}までにご返信します。|再接続中…|現在接続できません。",
      "順番待ち：{n}番目です。|待ち時間の目安：{d}|現在、対応できる担当者がいません。|{n}が参加しました。|{n}が入力中…",
      "あなた|サポート|自動応答|担当者と話す|送信中…|送信済み|既読|未送信",
      "ご連絡先をご入力いただければ、メールでご返信します。|お名前|メールアドレス|ありがとうございます。{e}宛にご返信します。",
      "チャットは終了しました。|このチャットの記録をメールで受け取る|チャットの記録を{e}に送信しました。|今回のチャットはいかがでしたか？|5段階中{n}|コメント（任意）|評価を送信|ご意見ありがとうございます！|新しいチャットを始める",
      "エラーが発生しました。もう一度お試しください。|メッセージが長すぎます（最大{n}文字）。|メールアドレスをご確認ください。",
      "{e}に確認コードを送信しました。こちらに入力すると、チャットの記録をお送りします。|確認コード|新しいコードを送る|コードが正しくないか、有効期限が切れています。|このチャットからはこれ以上メールを送信できません。",
    ],
  };

  // currentScript is only set during this first run
  const script = document.currentScript || document.querySelector('script[src*="/chat/widget.js"]');
  const opts = (script && script.dataset) || {};
  const API = (opts.api || (script && script.src ? new URL(script.src, location.href).origin : location.origin))
    .replace(/\/+$/, "");
  const LOCALE = (opts.locale || document.documentElement.lang || navigator.language || "en").slice(0, 35);
  const PRIMARY = LOCALE.toLowerCase().split(/[-_]/)[0];
  const LANG = STRINGS[PRIMARY] ? PRIMARY : "en";
  const T = {};
  STRINGS[LANG].join("|").split("|").forEach((text, i) => { T[KEYS[i]] = text; });
  // dates and numbers in the strings' language
  const FMT = (() => {
    const tag = LANG === PRIMARY ? LOCALE : LANG;
    try { new Intl.DateTimeFormat(tag); return tag; } catch { return LANG; }
  })();
  const KEY = "helpline-chat:" + API;
  const TITLE = opts.title || T.title;
  const DIR = LANG === "ar" ? "rtl" : "ltr";

  const t = (key, vars) => T[key].replace(/\{(\w)\}/g, (_, k) => vars[k]);

  const CSS = `
:host{all:initial}
.w{--a:#1a56c4;--ad:#0f3d91;--fg:#1b2230;--mu:#4f596b;--ln:#d3d8e1;font:15px/1.45 system-ui,sans-serif;color:var(--fg)}
*{box-sizing:border-box}
[hidden]{display:none!important}
button{font:inherit;cursor:pointer}
:focus-visible{outline:3px solid #0b2e6b;outline-offset:2px}
.launch{position:fixed;bottom:20px;right:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;padding:12px 18px;border:0;border-radius:999px;background:var(--a);color:#fff;font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.28)}
.launch:hover{background:var(--ad)}
.launch:focus-visible{outline:3px solid #fff;box-shadow:0 0 0 6px #0b2e6b}
.left .launch,.left .panel{right:auto;left:20px}
.badge{min-width:20px;padding:0 6px;border-radius:10px;background:#fff;color:var(--ad);font-size:12px;line-height:20px;text-align:center}
.panel{position:fixed;bottom:84px;right:20px;z-index:2147483001;width:370px;max-width:calc(100vw - 40px);height:min(600px,calc(100vh - 104px));display:flex;flex-direction:column;background:#fff;border:1px solid var(--ln);border-radius:12px;box-shadow:0 10px 30px rgba(0,0,0,.25);overflow:hidden;animation:hlc-in .18s ease-out}
@keyframes hlc-in{from{opacity:0;transform:translateY(12px)}}
.head{display:flex;align-items:flex-start;gap:8px;padding:12px 14px;background:var(--a);color:#fff}
.head>div{flex:1;min-width:0}
h2{margin:0;font-size:16px}
.sub{margin:2px 0 0;font-size:13px}
.head button{background:transparent;color:#fff;border:1px solid #fff;border-radius:6px;padding:3px 8px;font-size:13px}
.head :focus-visible{outline-color:#fff}
.head .x{border-color:transparent;font-size:20px;line-height:1;padding:2px 8px}
.bar{margin:0;padding:8px 14px;font-size:13px;background:#fff6d6;color:#3d3000;border-bottom:1px solid var(--ln)}
.body{flex:1;overflow-y:auto;padding:12px 14px;display:flex;flex-direction:column;gap:10px}
ol{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px}
.m{max-width:85%;align-self:flex-start;padding:7px 10px;border-radius:10px;background:#edf0f5}
.me{align-self:flex-end;background:var(--a);color:#fff}
.me a,.me .who{color:#fff}
.bot{background:#f1ecfb}
.failed,.failed .who{background:#fde8e8;color:#7a1414}
.who{display:block;font-size:12px;color:var(--mu)}
.txt{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}
a{color:var(--ad)}
.st{display:block;font-size:11px;text-align:end}
.note{align-self:center;font-size:13px;color:var(--mu);text-align:center}
.card{border:1px solid var(--ln);border-radius:10px;padding:10px 12px}
.card p{margin:0 0 4px}
h3{margin:0 0 6px;font-size:14px}
label{display:block;font-size:13px;margin:8px 0 2px}
input,textarea{font:inherit;color:var(--fg);background:#fff;border:1px solid #7c8596;border-radius:6px;padding:6px 8px;width:100%}
.btn,.btn2{margin-top:8px;border-radius:8px;padding:7px 14px;font-weight:600;border:1px solid var(--a)}
.btn{background:var(--a);color:#fff}
.btn2{background:#fff;color:var(--ad)}
.stars{display:flex;gap:4px;margin-top:4px}
.stars button{font-size:22px;line-height:1;padding:4px 7px;border:1px solid #7c8596;border-radius:6px;background:#fff;color:#596273}
.stars [aria-pressed=true]{color:#6b4500;background:#ffe9a8;border-color:#8a5a00}
.typing{margin:0;padding:0 14px 4px;font-size:12px;color:var(--mu)}
.err{margin:0;padding:4px 14px;font-size:13px;color:#a10f0f}
form.c{display:flex;align-items:flex-end;gap:8px;padding:10px 12px;border-top:1px solid var(--ln)}
form.c textarea{flex:1;resize:none;max-height:120px;border-radius:8px}
form.c .btn{margin:0}
@media (max-width:480px){.panel,.left .panel{top:0;left:0;right:0;bottom:0;width:auto;max-width:none;height:auto;border:0;border-radius:0}}
@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important;scroll-behavior:auto!important}}
`;

  // -- DOM helpers: text goes in as text nodes only
  let seq = 0;
  const uid = (p) => "hlc-" + p + ++seq;
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const k in props || {}) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (/^on/.test(k)) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids) if (kid != null && kid !== false) el.append(kid);
    return el;
  }
  // plain text, with http(s) addresses as links (split() puts them at the odd places)
  function body(text) {
    const p = h("p", { class: "txt", dir: "auto" });
    String(text == null ? "" : text).split(/(\bhttps?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]])/).forEach((part, i) =>
      p.append(i % 2 ? h("a", { href: part, target: "_blank", rel: "noopener noreferrer" }, part) : part));
    return p;
  }
  const stamp = (who, at) => who + (time(at) ? " · " + time(at) : "");
  function time(at) {
    const d = new Date(at);
    return at && !isNaN(d) ? d.toLocaleTimeString(FMT, { hour: "2-digit", minute: "2-digit" }) : "";
  }
  const num = (n) => new Intl.NumberFormat(FMT).format(n); // FMT is a valid tag
  function duration(seconds) {
    const minutes = Math.max(1, Math.ceil(seconds / 60));
    try { return new Intl.NumberFormat(FMT, { style: "unit", unit: "minute", unitDisplay: "long" }).format(minutes); } catch { return minutes + " min"; }
  }
  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return "c" + Array.from(bytes, (b) => (b + 256).toString(16).slice(1)).join("");
  }

  // -- what survives a reload (sessionStorage: this tab only)
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(KEY)) || {}; } catch { /* storage off */ }
  let token = saved.token || "";
  let pending = Array.isArray(saved.pending) ? saved.pending : []; // not yet acked: [{c: client_id, x: text}]
  let contact = saved.contact || {}; // {name, email} the visitor left
  let isOpen = !!saved.open;
  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify({ token, pending, contact, open: isOpen })); } catch { /* storage off */ }
  }

  // -- connection state
  let limits = { max_message_chars: 4000, max_actions_per_second: 5 };
  let hours = null;
  let ws = null, phase = "idle", ready = false, attempt = 0, retryTimer = 0, openedAt = 0;
  let state = "new", agentName = "", lastPos = 0;
  // the newest cursor shown, in memory only: after a reload nothing is shown,
  // so hello leaves last_seen out and gets the whole chat back
  let cursor = "";
  let announceHistory = false;
  let queue = []; // frames waiting for the connection or for the rate limit, in order
  let sentAt = [], pumpTimer = 0;
  const shown = new Map(); // message id -> its <li>
  const pendingEls = new Map(); // client_id -> its <li>
  const ackTimers = new Map();
  let lastIncoming = "", lastReadSent = "", unread = 0;
  let typingOn = false, typingSentAt = 0, typingStop = 0, typingHide = 0;

  // -- the UI
  const wrap = h("div", { class: "hlc-host" });
  const host = h("div");
  const shadow = host.attachShadow({ mode: "open" });
  // live regions in the page's own DOM, where every screen reader follows them
  const hide = "position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap";
  const live = h("div", { class: "hlc-live", "aria-live": "polite", lang: LANG, dir: DIR, style: hide });
  const alertBox = h("div", { class: "hlc-alert", role: "alert", "aria-live": "assertive", lang: LANG, style: hide });
  wrap.append(host, live, alertBox);

  const badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  const launcher = h("button", { class: "launch", "aria-expanded": "false", "aria-controls": "hlc-panel", onclick: () => (isOpen ? closePanel() : openPanel(true)) },
    h("span", {}, TITLE), badge);
  const titleId = uid("t");
  const sub = h("p", { class: "sub" });
  const endBtn = h("button", { hidden: true, onclick: () => frame({ action: "close" }) }, t("end"));
  const xBtn = h("button", { class: "x", "aria-label": t("hide"), title: t("hide"), onclick: closePanel }, "×");
  const net = h("p", { class: "bar", hidden: true });
  const queueBar = h("p", { class: "bar", hidden: true });
  const log = h("ol");
  const cards = h("div");
  const scroller = h("div", { class: "body", tabindex: "0", "aria-labelledby": titleId }, log, cards);
  const typingEl = h("p", { class: "typing", hidden: true });
  const errEl = h("p", { class: "err", hidden: true });
  const inputId = uid("in");
  const input = h("textarea", { id: inputId, rows: "1", placeholder: t("ph"), autocomplete: "off" });
  const composer = h("form", { class: "c", onsubmit: (e) => { e.preventDefault(); submit(); } },
    h("label", { style: hide, for: inputId }, t("msg")), input, h("button", { type: "submit", class: "btn" }, t("send")));
  const panel = h("section", { id: "hlc-panel", class: "panel", role: "dialog", "aria-labelledby": titleId, lang: LANG, dir: DIR, hidden: true },
    h("header", { class: "head" }, h("div", {}, h("h2", { id: titleId }, TITLE), sub), endBtn, xBtn),
    net, queueBar, scroller, typingEl, errEl, composer);
  shadow.append(h("style", {}, CSS), h("div", { class: "w" + (/left/.test(opts.position || "") ? " left" : "") }, launcher, panel));

  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !e.isComposing) { e.preventDefault(); closePanel(); }
  });
  input.addEventListener("keydown", (e) => {
    // Enter sends, Shift+Enter is a new line; never while an IME (Japanese) is composing
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
    typed();
  });
  document.addEventListener("visibilitychange", sendRead);
  window.addEventListener("online", () => { if (token && phase === "idle" && state !== "closed") { attempt = 0; start(); } });

  // a new node each time, so the same words are announced again
  function say(text, urgent) {
    const region = urgent ? alertBox : live;
    region.append(h("p", {}, text));
    while (region.childNodes.length > 4) region.firstChild.remove();
  }
  function scrollDown() { scroller.scrollTop = scroller.scrollHeight; }
  function setLauncher() {
    badge.hidden = !unread;
    badge.textContent = unread ? num(unread) : "";
    if (unread) launcher.setAttribute("aria-label", TITLE + ", " + t("unread", { n: num(unread) }));
    else launcher.removeAttribute("aria-label");
  }

  function openPanel(focus) {
    isOpen = true; save();
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    unread = 0; setLauncher();
    if (focus && composer.hidden) scroller.focus();
    else if (focus) input.focus();
    scrollDown();
    start();
    sendRead();
  }
  function closePanel() {
    isOpen = false; save();
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  function showHours() {
    if (!hours) return;
    sub.textContent = hours.open ? t("open") : hours.next_open_text ? t("back", { t: hours.next_open_text }) : t("closed");
  }
  function status(text) {
    net.textContent = text;
    net.hidden = !text;
  }

  function showError(text) {
    errEl.textContent = text;
    errEl.hidden = false;
    say(text, true);
  }
  function note(text) {
    log.append(h("li", { class: "note", "data-c": cursor }, text));
    scrollDown();
    say(text);
  }

  // -- session and socket
  // page context is clipped: a hint is not worth an error
  const pageInfo = (ref) => ({ url: location.href.slice(0, 2000), title: document.title.slice(0, 300), referrer: (ref && document.referrer.slice(0, 2000)) || undefined });
  function openSession(retried) {
    const req = { locale: LOCALE, page: pageInfo() };
    if (token) req.token = token;
    return fetch(API + "/chat/session", {
      method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req),
    }).then((r) => r.json().catch(() => ({})).then((b) => {
      if (r.ok && b.token && b.ws_url) return b;
      // a token the server no longer takes: a new session, once
      if (token && !retried && r.status >= 400 && r.status < 500) { forget(); return openSession(1); }
      throw Error("session " + r.status);
    })).then((b) => {
      if (token && !b.resumed) forget(); // the old chat expired: this is a new one
      token = b.token;
      hours = b.hours || hours;
      Object.assign(limits, b.limits);
      save(); showHours();
      return b.ws_url;
    });
  }

  function forget() {
    token = ""; cursor = ""; shown.clear(); state = "new";
  }
  function start() {
    if (phase !== "idle") return;
    phase = "connecting";
    clearTimeout(retryTimer); retryTimer = 0;
    if (!attempt) status("");
    openSession().then(connect).catch(dropped);
  }
  function connect(url) {
    const s = new WebSocket(url + (url.indexOf("?") < 0 ? "?" : "&") + "token=" + encodeURIComponent(token));
    ws = s;
    s.onopen = () => {
      openedAt = Date.now();
      announceHistory = !!cursor; // a resume's history is news; a reload's is not
      s.send(JSON.stringify({ action: "hello", locale: LOCALE, page: pageInfo(1), last_seen: cursor || undefined, name: contact.name, email: contact.email }));
    };
    s.onmessage = (e) => {
      if (s !== ws) return;
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f) handle(f);
    };
    s.onclose = () => { if (s === ws) dropped(); };
  }
  function dropped() {
    const lived = openedAt && Date.now() - openedAt > 10000;
    ws = null; ready = false; phase = "idle"; openedAt = 0;
    ackTimers.forEach(clearTimeout); ackTimers.clear();
    // messages are resent from `pending`; typing and read are stale
    queue = queue.filter((f) => !/^(message|typing|read)$/.test(f.action));
    if (lived) attempt = 0; // an idle timeout
    if (state === "closed" && !queue.length) { status(""); return; }
    // backoff doubling to at most 30 s, with jitter; after a few tries, say so
    const base = Math.min(30000, 500 * 2 ** attempt++);
    status(t(attempt > 5 ? "offline" : "reconn"));
    if (attempt === 6) say(t("offline"), true);
    retryTimer = setTimeout(start, base / 2 + Math.random() * base / 2);
  }

  // frames go out in order, at most max_actions_per_second, and only after welcome
  function frame(f) {
    queue.push(f);
    pump();
  }
  function pump() {
    if (!ready) { if (phase === "idle" && !retryTimer) start(); return; }
    while (queue.length) {
      const now = Date.now();
      sentAt = sentAt.filter((x) => now - x < 1000);
      if (sentAt.length >= (limits.max_actions_per_second || 5)) {
        clearTimeout(pumpTimer);
        pumpTimer = setTimeout(pump, 1000 - (now - sentAt[0]) + 20);
        return;
      }
      const f = queue.shift();
      sentAt.push(now);
      ws.send(JSON.stringify(f));
      if (f.action === "message") watchAck(f.client_id);
    }
  }
  // no ack in time: a half-open connection, so drop it and resume
  function watchAck(cid) {
    const s = ws;
    clearTimeout(ackTimers.get(cid));
    ackTimers.set(cid, setTimeout(() => { if (s === ws && s && pendingEls.has(cid)) s.close(); }, 15000));
  }

  // -- the customer's side
  function submit() {
    const text = input.value;
    if (!text.trim() || state === "closed") return;
    if (text.length > limits.max_message_chars) { showError(t("eLong", { n: num(limits.max_message_chars) })); return; }
    errEl.hidden = true;
    const p = { c: newId(), x: text };
    pending.push(p); save();
    renderPending(p);
    input.value = ""; input.style.height = "";
    stopTyping();
    frame(msgFrame(p));
  }
  const msgFrame = (p) => ({ action: "message", text: p.x, client_id: p.c });
  function renderPending(p) {
    // data-p: not acked, so it stays below what the server has stored
    const li = h("li", { class: "m me", "data-p": "1" }, h("span", { class: "who" }, t("you")), body(p.x), h("span", { class: "st" }, t("sending")));
    log.append(li);
    pendingEls.set(p.c, li);
    scrollDown();
  }
  function typed() {
    if (state !== "assigned" || !ready) return;
    const now = Date.now();
    if (!typingOn || now - typingSentAt > 3000) { typingOn = true; typingSentAt = now; frame({ action: "typing", typing: true }); }
    clearTimeout(typingStop);
    typingStop = setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    clearTimeout(typingStop);
    if (typingOn) { typingOn = false; if (ready) frame({ action: "typing", typing: false }); }
  }
  function sendRead() {
    if (isOpen && ready && lastIncoming && lastIncoming !== lastReadSent && document.visibilityState !== "hidden") {
      lastReadSent = lastIncoming;
      frame({ action: "read", message_id: lastIncoming });
    }
  }

  // -- server frames
  function handle(f) {
    switch (f.type) {
      case "welcome": return welcome(f);
      case "history": for (const m of f.messages || []) show(m, announceHistory); return;
      case "ack": return acked(f.client_id, f.message);
      case "message": showTyping(false); return show(f.message, true);
      case "bot": setState("bot"); return show(f.message, true, f.offer_agent);
      case "queued": return queued(f);
      case "assigned": return assigned(f.agent);
      case "after_hours": return afterHours(f);
      case "typing": return showTyping(f.from !== "customer" && f.typing !== false);
      case "read": return markRead(f.message_id);
      case "contact_saved": return;
      case "code_sent": return codeSent(f);
      case "transcript_sent": return done(cards.querySelector('[data-part="verify"]') ? "verify" : "transcript", t("trok", { e: f.email || "" }));
      case "rated": return done("rate", t("rated"));
      case "closed": return ended(f);
      case "error": return failed(f);
    }
  }
  function welcome(f) {
    ready = true; phase = "open"; attempt = 0;
    status("");
    if (f.hours) { hours = f.hours; showHours(); }
    if (f.agent && f.agent.name) agentName = f.agent.name;
    if (f.state === "closed") ended({});
    else setState(f.state || "new");
    // unacked messages again, same client_id: the server stores each once
    for (const p of pending) if (!pendingEls.has(p.c)) renderPending(p);
    queue = pending.map(msgFrame).concat(queue.filter((x) => x.action !== "message"));
    pump();
    sendRead();
  }
  function setState(s) {
    state = s;
    endBtn.hidden = s === "new" || s === "closed";
    queueBar.hidden = s !== "queued";
    if (s !== "after_hours") removeCard("away");
    if (s !== "assigned") showTyping(false);
  }
  function show(m, announce, offerAgent) {
    if (!m || !m.id || shown.has(m.id)) return;
    if (m.cursor > cursor) cursor = m.cursor;
    const mine = m.from === "customer", bot = m.from === "bot";
    const who = mine ? t("you") : bot ? t("bot") : m.name || (m.from === "agent" && agentName) || t("agent");
    const li = h("li", { class: "m " + (mine ? "me" : bot ? "bot" : "them"), "data-c": m.cursor || "" },
      h("span", { class: "who" }, stamp(who, m.at)), body(m.text), mine && h("span", { class: "st" }, t("sent")),
      offerAgent && h("button", { class: "btn2", onclick: (e) => { e.currentTarget.remove(); frame({ action: "agent" }); input.focus(); } }, t("person")));
    // in cursor order: a resume may bring messages older than the newest shown
    let before = null;
    for (let el = log.lastElementChild; el && (el.dataset.p || el.dataset.c > m.cursor); el = el.previousElementSibling) before = el;
    log.insertBefore(li, before);
    shown.set(m.id, li);
    scrollDown();
    if (mine) return;
    lastIncoming = m.id;
    if (announce) {
      say(who + ": " + m.text);
      if (!isOpen) { unread++; setLauncher(); }
    }
    sendRead();
  }

  function unpend(cid) {
    const li = pendingEls.get(cid);
    pending = pending.filter((p) => p.c !== cid); save();
    pendingEls.delete(cid);
    clearTimeout(ackTimers.get(cid));
    if (li) delete li.dataset.p;
    return li;
  }
  function acked(cid, m) {
    const li = unpend(cid);
    if (!m || !m.id) { if (li) li.lastChild.textContent = t("sent"); return; }
    if (shown.has(m.id)) { if (li && shown.get(m.id) !== li) li.remove(); return; } // history had it
    if (!li) return show(m);
    if (m.cursor > cursor) cursor = m.cursor;
    li.dataset.c = m.cursor || "";
    li.firstChild.textContent = stamp(t("you"), m.at);
    li.lastChild.textContent = t("sent");
    shown.set(m.id, li);
  }

  function markRead(id) {
    const upTo = shown.get(id);
    if (!upTo) return;
    for (const [, li] of shown) {
      if (li.classList.contains("me")) li.lastChild.textContent = t("read");
      if (li === upTo) break;
    }
  }
  function queued(f) {
    setState("queued");
    const wait = f.estimated_wait_seconds == null ? t("noagent") : t("wait", { d: duration(f.estimated_wait_seconds) });
    queueBar.textContent = t("queue", { n: num(f.position) }) + " " + wait;
    if (f.position !== lastPos) say(queueBar.textContent);
    lastPos = f.position;
  }
  function assigned(agent) {
    const name = (agent && agent.name) || t("agent");
    if (state !== "assigned" || name !== agentName) note(t("joined", { n: name }));
    agentName = name; lastPos = 0;
    setState("assigned");
  }
  function showTyping(on) {
    clearTimeout(typingHide);
    typingEl.hidden = !on;
    typingEl.textContent = on ? t("typing", { n: agentName || t("agent") }) : "";
    if (on) typingHide = setTimeout(() => showTyping(false), 20000); // a lost "stopped typing"
  }

  function card(id, ...kids) {
    removeCard(id);
    const c = h("section", { class: "card", "data-card": id, tabindex: "-1" }, ...kids);
    cards.append(c);
    scrollDown();
    return c;
  }
  function removeCard(id) {
    const old = cards.querySelector('[data-card="' + id + '"]');
    if (old) old.remove();
  }
  function field(label, props) {
    const id = uid("f");
    return [h("label", { for: id }, label), h(props.rows ? "textarea" : "input", Object.assign({ id }, props))];
  }
  function afterHours(f) {
    const first = !cards.querySelector('[data-card="away"]');
    setState("after_hours");
    const lines = [h("p", {}, h("strong", {}, t("closed")))];
    if (f.next_open_text) lines.push(h("p", {}, t("back", { t: f.next_open_text }) + (LANG === "ja" ? "" : ".")));
    if (f.expected_response_text) lines.push(h("p", {}, t("reply", { t: f.expected_response_text })));
    if (f.ask_contact !== false && !contact.email) lines.push(contactForm());
    else if (contact.email) lines.push(h("p", { "data-part": "contact" }, t("saved", { e: contact.email })));
    card("away", ...lines);
    if (first) say(lines.filter((l) => l.tagName === "P").map((l) => l.textContent).join(" "));
  }
  function contactForm() {
    const [nl, ni] = field(t("name"), { autocomplete: "name", value: contact.name || "" });
    return emailForm("contact", t("email"), [h("p", {}, t("leave")), nl, ni], (email) => {
      contact = { name: ni.value.trim() || undefined, email }; save();
      setTimeout(() => done("contact", t("saved", { e: email }))); // no answer is due
      return { action: "contact", email, name: contact.name };
    });
  }
  // a form in a card; `send` turns the checked address into the frame to send
  function emailForm(part, label, extra, send) {
    const [el, ei] = field(label, { type: "email", autocomplete: "email", required: true, value: contact.email || "" });
    const form = h("form", { "data-part": part, onsubmit: (e) => {
      e.preventDefault();
      const email = ei.value.trim();
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) { showError(t("eEmail")); return ei.focus(); }
      frame(send(email));
      form.lastChild.disabled = true;
    } }, ...extra, el, ei, h("button", { class: "btn" }, t("send")));
    return form;
  }

  function ended(f) {
    const focusWasIn = shadow.activeElement && (composer.contains(shadow.activeElement) || endBtn === shadow.activeElement);
    const already = state === "closed";
    setState("closed");
    composer.hidden = true;
    pending = []; save();
    if (already) return;
    note(t("ended"));
    const c = card("end", h("h3", {}, t("ended")), f.offer_rating !== false && ratingForm(),
      f.offer_transcript !== false && transcriptForm(), h("button", { class: "btn2", onclick: restart }, t("again")));
    if (focusWasIn) c.focus();
  }
  function ratingForm() {
    let score = 0;
    const labelId = uid("r");
    const stars = [1, 2, 3, 4, 5].map((n) => h("button", { type: "button", "aria-pressed": "false", "aria-label": t("star", { n: num(n) }), onclick: () => {
      score = n;
      stars.forEach((b, i) => { b.setAttribute("aria-pressed", String(i + 1 === n)); b.textContent = i < n ? "★" : "☆"; });
    } }, "☆"));
    const [cl, ci] = field(t("comment"), { rows: "2" });
    const form = h("form", { "data-part": "rate", onsubmit: (e) => {
      e.preventDefault();
      if (!score) { stars[0].focus(); return; }
      frame({ action: "rate", score, comment: ci.value.trim() || undefined });
      form.lastChild.disabled = true;
    } }, h("p", { id: labelId }, t("rateq")), h("div", { class: "stars", role: "group", "aria-labelledby": labelId }, ...stars), cl, ci,
      h("button", { class: "btn" }, t("rates")));
    return form;
  }
  const transcriptForm = () => emailForm("transcript", t("tr"), [], (email) => ({ action: "transcript", email }));
  // the transcript goes only to an address the visitor proves is theirs: the code mailed there
  function codeSent(f) {
    const [cl, ci] = field(t("codel"), { inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", required: true });
    const form = h("form", { "data-part": "verify", onsubmit: (e) => {
      e.preventDefault();
      const code = ci.value.replace(/\s/g, "");
      if (!/^[0-9]{6}$/.test(code)) { showError(t("eCode")); return ci.focus(); }
      frame({ action: "verify", code });
      form.lastChild.disabled = true;
    } }, h("p", {}, t("coded", { e: f.email || "" })), cl, ci,
      h("button", { type: "button", class: "btn2", onclick: () => frame({ action: "transcript", email: f.email }) }, t("newcode")),
      h("button", { class: "btn" }, t("send")));
    const old = cards.querySelector('[data-part="transcript"], [data-part="verify"]');
    if (old) old.replaceWith(form); else cards.append(form);
    ci.focus();
    say(t("coded", { e: f.email || "" }));
  }

  // the form makes way for the thanks, which keeps the focus
  function done(part, text) {
    const form = cards.querySelector('[data-part="' + part + '"]');
    const p = h("p", { tabindex: "-1", "data-part": part }, text);
    if (form) {
      const hadFocus = form.contains(shadow.activeElement);
      form.replaceWith(p);
      if (hadFocus) p.focus();
    } else cards.append(p);
    say(text);
  }
  function restart() {
    const s = ws;
    ws = null; ready = false; phase = "idle";
    if (s) s.close();
    forget();
    pending = []; queue = []; contact = {}; save();
    log.textContent = cards.textContent = ""; pendingEls.clear();
    composer.hidden = false; errEl.hidden = true; agentName = ""; lastPos = 0; attempt = 0;
    setState("new");
    input.focus();
    start();
  }

  function failed(f) {
    const code = f.code, cid = f.client_id, li = cid && pendingEls.get(cid);
    if (li && code === "rate_limited") { // dropped, not refused: the same message, later
      const p = pending.find((x) => x.c === cid);
      if (p) setTimeout(() => frame(msgFrame(p)), 1200);
      return;
    }
    if (li) { // refused: marked, and the text back in the box to shorten
      unpend(cid);
      li.className = "m me failed";
      li.lastChild.textContent = t("failed");
      if (!input.value) input.value = li.childNodes[1].textContent;
    }
    if (/_token$/.test(code)) { forget(); save(); if (ws) ws.close(); return; }
    if (code === "closed") ended({});
    const retry = cards.querySelector('form[data-part="' + f.action + '"]');
    if (retry) retry.lastChild.disabled = false;
    const thanks = f.action === "contact" && cards.querySelector('p[data-part="contact"]');
    if (thanks) { contact = { name: contact.name }; save(); thanks.replaceWith(contactForm()); } // to correct it
    showError(t({ too_large: "eLong", bad_email: "eEmail", closed: "ended", bad_code: "eCode", limit_reached: "eLimit", already_sent: "eLimit" }[code] || "eGen", { n: num(limits.max_message_chars) }));
  }

  // -- go
  function mount() {
    document.body.append(wrap);
    if (isOpen) openPanel(false); // as before the reload, without taking the focus
    else if (token) start(); // a chat in progress keeps receiving
  }
  window.HelplineChat = { open: () => openPanel(true), close: closePanel };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
