"""Split what a customer just wrote from the quoted history and the signature.

Used on every inbound email (for language detection and message previews) and on
plain-text chat/DM text. The work is line by line and linear in the input: every
regular expression sees at most `_CAP` characters of one line (or a joined window of
at most `_HEADER_WINDOW` such lines), no pattern has nested quantifiers, and every
look-ahead is bounded by a constant number of lines.

The rules, in the order they are applied:

1. Lines starting with ">" are quoted; a single unmarked line sandwiched between
   quoted lines that looks wrapped (a mail client broke a long quoted line) is too.
2. Header lines open the quoted history: "On <date>, <name> wrote:" in many languages
   (also wrapped over up to five lines, or sharing a line with the reply),
   "<date> <name> <address>:", "-----Original Message-----" and its translations,
   and Outlook blocks ("From:/Sent:/To:/Subject:" and their translations).
3. After the first header, if the history is ">"-quoted, unquoted text below it is
   the customer's interleaved or bottom-posted reply; if the history is not marked,
   or another unquoted header follows, everything from the header on is history.
4. A forwarded message (or a header block at the very top) with little text of the
   customer's own is kept as the reply: it is what they want us to read.
5. At the end of every reply segment: a signature ("-- ", "Sent from my iPhone" and
   translations, "-Name", a sign-off line such as "Best regards," followed by a name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from functions.core.html import html_to_text

__all__ = ["ReplyParts", "split_reply", "split_reply_html", "strip_reply"]


@dataclass(frozen=True, slots=True)
class ReplyParts:
    """The three parts of a message body, each stripped of surrounding blank lines."""

    reply: str  # what the sender wrote in this message
    quoted: str  # the quoted earlier conversation ("" if none)
    signature: str  # the signature block ("" if none)


# Bounds that keep the work per line constant (and so the whole run linear).
_CAP = 300  # characters of one line ever tested against a pattern
_HEADER_WINDOW = 5  # lines an "On ... wrote:" header may be wrapped over
_BLOCK_WINDOW = 14  # lines an Outlook header block may span
_SIG_WINDOW = 40  # last lines of a reply segment searched for a signature
_SIG_MAX_LINE = 160  # a sign-off signature holds only short lines ...
_SIG_MAX_LINES = 30  # ... and not too many of them
_LITTLE_WORDS = 12  # "FYI, see below": a forward with this few words of one's own is kept
_INNER_TRIES = 3  # places tried per line where a header may start mid-line

_BLANK, _TEXT, _QUOTE = 0, 1, 2
_OPEN, _QUOTED, _FORWARD = 0, 1, 2  # what a line's region makes of it

# Header kinds.
_ATTRIBUTION = "attribution"  # On ... wrote:
_OUTLOOK = "outlook"  # From: / Sent: / To: / Subject:
_ORIGINAL = "original"  # -----Original Message-----
_FORWARD_MARK = "forward"  # ---------- Forwarded message ----------


class _Stats:
    """Counts loop iterations so tests can check the work grows linearly."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0


# --- patterns -----------------------------------------------------------------------

# Words that open an attribution line ("On", "Am", "Le", ...); CJK ones need no boundary.
_STARTER = re.compile(
    r"(?:on|am|le|el|em|il|op|den|på|w\s+dniu|dnia|dne|vào|pada|ve|в|في)(?!\w)|在|於",
    re.IGNORECASE,
)
# The same, capitalised, where a header shares its line with the reply ("reply On ...").
_INNER_STARTER = re.compile(r"(?<=[\s\-*])(?:On|Am|Le|El|Em|Il|Op|Den|På|W dniu|Dnia|Dne|Vào)\s")
# "wrote" in many languages; the verb must end the header (or precede only a name).
_VERB = re.compile(
    r"(?<!\w)(?:wrote|writes|sent|a\s+écrit|écrit|escribió|escribio|escreveu|"
    r"ha\s+scritto|scrisse|geschreven|schreef|schrieb|"
    r"napisał\(a\)|napisała|napisał|napisal|napsal\(a\)|napsala|napsal|"
    r"написал\(а\)|написала|написал|пишет|написав|skrev|kirjoitti|yazdı|írta|"
    r"έγραψε|כתב|a\s+scris|menulis|viết|كتب)(?!\w)"
    r"|写道|寫道|書きました|のメール|작성",
    re.IGNORECASE,
)
# Verbs after which the sender's name follows: "Am ... schrieb Max <max@x.de>:".
_MEDIAL_VERBS = frozenset({"schrieb", "schreef", "skrev", "كتب"})
_DIGIT = re.compile(r"\d")
_TIME = re.compile(r"\d{1,2}[:.h]\d{2}")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_DATE = re.compile(r"\d{1,4}\s?[./\-年月]\s?\d{1,2}|\d{1,2}:\d{2}")

# Outlook header block keys, by what they mean; "*From:*" (bold) and "De :" allowed.
_HEADER_KEYS: dict[str, tuple[str, ...]] = {
    "from": (
        "from", "von", "de", "van", "från", "fra", "od", "от", "da", "lähettäjä",
        "feladó", "kimden", "afsender", "发件人", "寄件者", "差出人", "보낸 사람", "من",
    ),
    "date": (
        "sent", "date", "gesendet", "datum", "envoyé", "envoyé le", "enviado",
        "enviado el", "enviada", "fecha", "verzonden", "verzonden op", "skickat",
        "sendt", "wysłano", "data", "отправлено", "дата", "inviato", "lähetetty",
        "päivämäärä", "gönderildi", "tarih", "发送时间", "日期", "寄件日期", "送信日時",
        "日付", "보낸 날짜", "أرسل", "التاريخ",
    ),
    "to": (
        "to", "an", "à", "a", "para", "aan", "till", "til", "do", "кому", "vastaanottaja",
        "kime", "címzett", "komu", "收件人", "宛先", "받는 사람", "إلى",
    ),
    "cc": ("cc", "kopie", "copie à", "kopia", "dw", "копия", "抄送", "副本", "참조", "نسخة"),
    "subject": (
        "subject", "betreff", "objet", "asunto", "assunto", "oggetto", "onderwerp",
        "ämne", "emne", "temat", "тема", "aihe", "konu", "tárgy", "předmět", "主题",
        "主旨", "件名", "제목", "الموضوع",
    ),
}  # fmt: skip
_KEY_CLASS = {key: cls for cls, keys in _HEADER_KEYS.items() for key in keys}
_KEY_ALTERNATION = "|".join(
    re.escape(k).replace(r"\ ", r"\s+") for k in sorted(_KEY_CLASS, key=len, reverse=True)
)
_KEY_AT_START = re.compile(r"\**\s*(" + _KEY_ALTERNATION + r")\s*\**\s*[:：]", re.IGNORECASE)
# A second key on the same line ("From: bob@x Date: Thu, ...", HTML blocks run together).
_KEY_INLINE = re.compile(r"(?<=\s)\**(" + _KEY_ALTERNATION + r")\**\s*[:：]", re.IGNORECASE)

# Phrases of "-----Original Message-----" / "--- Forwarded message ---" separators.
_ORIGINAL_WORDS = re.compile(
    r"original|d'origine|ursprüngliche|oprindelig|ursprungligt|opprinnelig|oorspronkelijk|"
    r"oryginalna|исходное|原始|元のメッセージ|الرسالة الأصلية|reply message|"
    r"antwort nachricht|alkuperäinen|eredeti|původní|orijinal"
)
_FORWARD_WORDS = re.compile(
    r"forward|weitergeleitet|transféré|reenviado|reencaminhad|encaminhad|inoltrat|"
    r"doorgestuurd|przekazan|пересла|пересыла|vidarebefordra|videresend|転送|转发|轉寄|"
    r"轉發|توجيه|edelleenlähetetty|továbbított|přeposlan|iletilen"
)
# Undecorated marker lines, matched whole (a sentence that merely mentions
# "forward" must not open a quote).
_PLAIN_MARKERS = {
    "begin forwarded message": _FORWARD_MARK,
    "anfang der weitergeleiteten nachricht": _FORWARD_MARK,
    "début du message réexpédié": _FORWARD_MARK,
    "début du message transféré": _FORWARD_MARK,
    "inicio del mensaje reenviado": _FORWARD_MARK,
    "comienzo del mensaje reenviado": _FORWARD_MARK,
    "inizio messaggio inoltrato": _FORWARD_MARK,
    "begin doorgestuurd bericht": _FORWARD_MARK,
    "início da mensagem reencaminhada": _FORWARD_MARK,
    "início da mensagem encaminhada": _FORWARD_MARK,
    "forwarded message": _FORWARD_MARK,
    "original message": _ORIGINAL,
    "ursprüngliche nachricht": _ORIGINAL,
    "message d'origine": _ORIGINAL,
}
_RULE_CHARS = "-_=~*—–"

# Signatures.
_MOBILE = re.compile(
    r"sent\s+(?:from|via|with|using)\s+(?:my\s+)?\S+(?:\s+\S+){0,4}"
    r"|get outlook for \S+(?:\s+\S+){0,2}"
    r"|(?:von meinem|gesendet von meinem|gesendet mit)\s+\S+(?:\s+\S+){0,3}(?:\s+gesendet)?"
    r"|envoyé (?:de|depuis) (?:mon )?\S+(?:\s+\S+){0,3}|obtenir outlook pour \S+"
    r"|enviado (?:desde|do|de|a partir do) (?:mi |meu |o meu )?\S+(?:\s+\S+){0,3}"
    r"|obtener outlook para \S+"
    r"|inviato da(?:l mio)? \S+(?:\s+\S+){0,3}"
    r"|(?:verzonden|verstuurd) (?:vanaf|met|van) (?:mijn )?\S+(?:\s+\S+){0,3}"
    r"|(?:wysłane|wysłano) z (?:mojego )?\S+(?:\s+\S+){0,3}"
    r"|отправлено (?:с|из) (?:моего )?\S+(?:\s+\S+){0,3}"
    r"|skickat från (?:min )?\S+(?:\s+\S+){0,3}"
    r"|sendt fra (?:min )?\S+(?:\s+\S+){0,3}"
    r"|\S+から送信|发自我的\s?\S+|從我的\s?\S+傳送|发自\s?\S+|"
    r"(?:أرسلت|تم الإرسال|مرسل) من \S+(?:\s+\S+){0,3}",
    re.IGNORECASE,
)
_VALEDICTIONS = (
    # en
    "regards|best regards|kind regards|warm regards|warmest regards|with regards|"
    "many regards|best|best wishes|all the best|cheers|thanks|thank you|thanks again|"
    "many thanks|thanks and regards|thanks & regards|thx|sincerely|yours sincerely|"
    "sincerely yours|yours truly|yours|take care|cordially|respectfully|"
    # de
    "mit freundlichen grüßen|mit freundlichen grüssen|mit freundlichem gruß|mfg|"
    "freundliche grüße|freundliche grüsse|viele grüße|viele grüsse|beste grüße|"
    "liebe grüße|herzliche grüße|schöne grüße|lg|vg|gruß|grüße|danke|vielen dank|"
    # fr
    "cordialement|bien cordialement|salutations|sincères salutations|bien à vous|"
    "merci|merci beaucoup|amicalement|bonne journée|"
    # es, pt, it
    "saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias|un abrazo|"
    "cordialmente|atenciosamente|cumprimentos|abraços|obrigado|obrigada|att|"
    "cordiali saluti|distinti saluti|saluti|grazie|un saluto|"
    # nl, pl, ru
    "met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|"
    "vriendelijke groeten|groeten|groet|mvg|hartelijke groeten|bedankt|"
    "pozdrawiam|z poważaniem|z powazaniem|serdecznie pozdrawiam|pozdrowienia|dziękuję|"
    "с уважением|спасибо|всего доброго|"
    # sv, da, no
    "med vänlig hälsning|med vänliga hälsningar|vänliga hälsningar|hälsningar|mvh|"
    "med venlig hilsen|venlig hilsen|hilsen|kh|kærlig hilsen|med vennlig hilsen|"
    "vennlig hilsen|"
    # ja, zh, ar
    "よろしくお願いいたします|よろしくお願いします|宜しくお願い致します|"
    "此致|此致敬礼|祝好|谢谢|謝謝|مع تحياتي|مع خالص التحيات|تحياتي|مع التحية|شكرا"
)
_VALEDICTION = re.compile(r"(?:" + _VALEDICTIONS + r")(?!\w)\s*[,.!،]*", re.IGNORECASE)
# Lines of a contact block under a name: "Tel: +49 ...", "E-Mail: ...", "www.x.de".
_CONTACT = re.compile(
    r"(?:tel|tél|phone|fax|mobile?|mobil|cell|e-?mail|web|www\.|https?:|telefon|telefax|"
    r"handy|móvil|celular|телефон|电话|手机)(?!\w)|\+?\d[\d ()/.-]{6,}$",
    re.IGNORECASE,
)
_SIG_DELIM, _SIG_MOBILE, _SIG_DASH_NAME, _SIG_VALEDICTION, _SIG_CONTACT = 1, 2, 3, 4, 5
_SIG_RULE = 6  # "______" / "~~~~~~": a signature only above contact details
_SOFT_SIGNATURES = frozenset({_SIG_DASH_NAME, _SIG_VALEDICTION, _SIG_CONTACT})


# --- lines --------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _kind(line: str) -> int:
    stripped = line.lstrip()
    if not stripped:
        return _BLANK
    if stripped[0] == ">":
        # ">>> http://link <<<" is decoration, not a quote
        return _TEXT if stripped.rstrip().endswith("<") else _QUOTE
    return _TEXT


def _head(line: str) -> str | None:
    """The stripped line if it is short enough to be a header; None otherwise."""
    stripped = line.strip()
    return stripped if len(stripped) <= _CAP else None


def _words(line: str) -> int:
    return len(line.split())


# --- header detection ---------------------------------------------------------------


def _attribution(text: str, next_is_quote: bool) -> bool:
    """Is this (joined, bounded) text an "On <date>, <name> wrote:" line?"""
    lead = len(text) - len(text.lstrip(_RULE_CHARS))
    trail = len(text) - len(text.rstrip(_RULE_CHARS))
    decorated = lead >= 2 or trail >= 2  # "---- John wrote ----"
    core = text.strip(_RULE_CHARS + " \t")
    colon = core.endswith((":", "："))
    if not colon and not decorated:
        return False
    body = core[:-1].rstrip() if colon else core
    window = body[-200:]
    last = None
    for last in _VERB.finditer(window):  # noqa: B007 - we want the last match
        pass
    if last is None:
        return False
    tail = window[last.end() :].strip(" \t,")
    if tail:
        # only verb-medial languages put the name after the verb
        verb = " ".join(last.group(0).lower().split())
        if verb not in _MEDIAL_VERBS or len(tail) > 120 or ":" in tail:
            return False
    starter = _STARTER.match(core) is not None
    if decorated or "@" in text:
        return True
    if starter and (_TIME.search(text) or _YEAR.search(text)):
        return True
    # "On Monday, Bob wrote:" / "Bob wrote:" only when a ">" quote follows
    return next_is_quote and (starter or bool(_DIGIT.search(text)) or _words(body) <= 6)


def _date_email(text: str, next_is_quote: bool) -> bool:
    """Is this "<date> <name> <address>:" (Gmail in some locales, Yandex, mail.ru)?"""
    core = text.strip()
    if len(core) > 2 * _CAP or not _DIGIT.search(core[:25]) or not _DATE.search(core):
        return False
    if _STARTER.match(core):
        return False  # "On <date> <name> <address>" still awaits its "wrote:"
    colon = core.endswith((":", "："))
    body = core[:-1].rstrip() if colon else core
    address_end = body.rstrip(">)]\"' ")
    at = address_end.rfind("@")
    # the address must be the last thing on the line (checked without a regex)
    if at <= 0 or at == len(address_end) - 1 or address_end[at - 1].isspace():
        return False
    if any(c.isspace() for c in address_end[at:]):
        return False
    return colon or next_is_quote


def _separator(stripped: str) -> str | None:
    """ "rule", _ORIGINAL, _FORWARD_MARK or None for one stripped line."""
    core = stripped.strip(_RULE_CHARS + " \t")
    if not core:
        return "rule" if len(stripped) >= 5 else None
    lead = len(stripped) - len(stripped.lstrip(_RULE_CHARS))
    trail = len(stripped) - len(stripped.rstrip(_RULE_CHARS))
    low = core.lower().rstrip(" :：")
    if (lead >= 2 or trail >= 2) and len(low) <= 60:
        if _FORWARD_WORDS.search(low):
            return _FORWARD_MARK
        if _ORIGINAL_WORDS.search(low):
            return _ORIGINAL
        return None
    return _PLAIN_MARKERS.get(low)


@dataclass(slots=True)
class _Header:
    start: int
    end: int  # exclusive
    kind: str


class _Text:
    """One plain-text body, its lines and what is known about each."""

    def __init__(self, text: str, stats: _Stats) -> None:
        self.stats = stats
        self.lines = _split_shared_lines(_lines(text), stats)
        self.n = len(self.lines)
        self.kinds = [_kind(line) for line in self.lines]
        self.heads = [_head(line) for line in self.lines]
        stats.steps += 3 * self.n
        # index of the next non-blank line at or after i (n if none)
        self.next_nonblank = [self.n] * (self.n + 1)
        for i in range(self.n - 1, -1, -1):
            stats.steps += 1
            self.next_nonblank[i] = i if self.kinds[i] != _BLANK else self.next_nonblank[i + 1]

    def quote_follows(self, i: int) -> bool:
        """Is the first non-blank line at or after i a ">" quote?"""
        j = self.next_nonblank[min(i, self.n)]
        return j < self.n and self.kinds[j] == _QUOTE

    def headers(self) -> list[_Header]:
        found: list[_Header] = []
        i = 0
        while i < self.n:
            self.stats.steps += 1
            header = self._header_at(i) if self.kinds[i] == _TEXT else None
            if header is None:
                i += 1
                continue
            # a rule line ("____", "-----") just above a header belongs to it
            k = header.start - 1
            while k >= 0 and k >= header.start - 3 and self.kinds[k] == _BLANK:
                k -= 1
            lower = found[-1].end if found else 0
            if (
                k >= lower
                and self.heads[k] is not None
                and _separator(self.heads[k] or "") == "rule"
            ):
                header.start = k
            found.append(header)
            i = header.end
        return found

    def _header_at(self, i: int) -> _Header | None:
        head = self.heads[i]
        if head is None:
            return None
        mark = _separator(head)
        if mark in (_ORIGINAL, _FORWARD_MARK):
            end = i + 1
            j = self.next_nonblank[end]
            if j < self.n and j - end <= 1:  # the separator's own From:/Date: block
                block = self._outlook_block(j)
                if block is not None:
                    end = block
            return _Header(i, end, mark or _ORIGINAL)
        block_end = self._outlook_block(i)
        if block_end is not None:
            return _Header(i, block_end, _OUTLOOK)
        return self._attribution_at(i, head)

    def _outlook_block(self, i: int) -> int | None:
        """End of a From:/Sent:/To:/Subject: block starting at line i, if it is one."""
        head = self.heads[i]
        if head is None:
            return None
        match = _KEY_AT_START.match(head)
        if match is None:
            return None
        first = _KEY_CLASS.get(" ".join(match.group(1).lower().split()), "")
        classes: set[str] = set()
        last_key = i
        continuation = 0
        for j in range(i, min(self.n, i + _BLOCK_WINDOW)):
            self.stats.steps += 1
            line = self.heads[j]
            if line is None or self.kinds[j] != _TEXT:
                break
            key = _KEY_AT_START.match(line)
            if key is None:
                continuation += 1  # a wrapped value ("[mailto:\n bob@example.com]")
                if continuation > 2:
                    break
                continue
            continuation = 0
            last_key = j
            classes.add(_KEY_CLASS.get(" ".join(key.group(1).lower().split()), ""))
            for inline in _KEY_INLINE.finditer(line, key.end()):
                classes.add(_KEY_CLASS.get(" ".join(inline.group(1).lower().split()), ""))
        classes.discard("")
        if (len(classes) >= 2 and first in ("from", "date")) or len(classes) >= 3:
            return last_key + 1
        return None

    def _attribution_at(self, i: int, head: str) -> _Header | None:
        # a wrapped header starts with "On"/"Am"/... or a date, and is not a sentence
        can_wrap = (_STARTER.match(head) is not None or head[:1].isdigit()) and not head.endswith(
            (".", "!", "?")
        )
        joined = head
        j = i
        while True:
            self.stats.steps += 1
            follows = self.quote_follows(j + 1)
            if _attribution(joined, follows) or _date_email(joined, follows):
                return _Header(i, j + 1, _ATTRIBUTION)
            if not can_wrap or joined.endswith((":", "：")):
                return None
            # extend by the next non-blank line, at most _HEADER_WINDOW lines in all
            j += 1
            while j < self.n and j - i < _HEADER_WINDOW and self.kinds[j] == _BLANK:
                j += 1
            if j >= self.n or j - i >= _HEADER_WINDOW:
                return None
            nxt = self.heads[j]
            if nxt is None:
                return None
            if self.kinds[j] == _QUOTE:
                nxt = nxt.lstrip("> ")  # "> wrote:" after a wrapped "<address"
            if _STARTER.match(nxt) or _words(nxt) > 6 or ", " in nxt or ". " in nxt:
                return None  # a new header or a sentence, not a wrapped one
            joined = joined[:-1] + nxt if joined.endswith("=") else joined + " " + nxt


def _split_shared_lines(lines: list[str], stats: _Stats) -> list[str]:
    """Put "reply On <date>, <name> wrote:" on two lines: reply, then header."""
    out: list[str] = []
    for line in lines:
        stats.steps += 1
        stripped = line.strip()
        if (
            len(stripped) > _CAP
            or not stripped.endswith((":", "："))
            or "@" not in stripped
            or _STARTER.match(stripped)
            or _kind(line) != _TEXT
        ):
            out.append(line)
            continue
        for tries, match in enumerate(_INNER_STARTER.finditer(stripped)):
            if tries >= _INNER_TRIES:
                break
            rest = stripped[match.start() :]
            prefix = stripped[: match.start()].rstrip(" \t" + _RULE_CHARS)
            if prefix and _attribution(rest, False):
                out.extend((prefix, rest))
                break
        else:
            out.append(line)
    return out


# --- signatures ---------------------------------------------------------------------


def _sig_kind(stripped: str) -> int:
    if stripped == "--":
        return _SIG_DELIM
    if len(stripped) >= 3 and (set(stripped) <= {"_"} or set(stripped) <= {"~"}):
        return _SIG_RULE
    if len(stripped) > 80:
        return 0
    # "Get Outlook for iOS<https://aka.ms/o0ukef>": drop a trailing link first
    bare = stripped.split("<http", 1)[0].strip()
    if "," not in bare and _MOBILE.fullmatch(bare.rstrip(".!")):
        return _SIG_MOBILE
    if (
        stripped[0] in "-/~"
        and len(stripped) > 1
        and stripped[1].isalpha()
        and _words(stripped) <= 4
        and not stripped.endswith((".", "?", "!", ":"))
    ):
        return _SIG_DASH_NAME
    if _VALEDICTION.fullmatch(stripped):
        return _SIG_VALEDICTION
    match = _VALEDICTION.match(stripped)
    if match and _is_name(stripped[match.end() :], max_words=3):
        return -_SIG_VALEDICTION  # "Regards, Roman": sign-off and name on one line
    return 0


def _is_name(text: str, max_words: int = 4) -> bool:
    words = text.split()
    if not words or len(words) > max_words or len(text) > 50:
        return False
    if text.rstrip().endswith(("?", "!", ":", ",")) or "http" in text:
        return False
    if not any(c.isalpha() for c in text):
        return False

    def capital(word: str) -> bool:
        letter = next((c for c in word if c.isalpha()), "")
        return bool(letter) and not letter.islower()

    return capital(words[0]) and capital(words[-1])


def _find_signature(segment: list[str], stats: _Stats) -> tuple[int, int]:
    """(index where the signature starts, its kind); (len(segment), 0) if none."""
    n = len(segment)
    low = max(0, n - _SIG_WINDOW)
    ok = [False] * (n + 1)
    kinds = [0] * (n + 1)
    upcoming: list[str] = []  # the next few non-blank lines below i, nearest first
    next_nonblank = n
    short_tail = True  # all lines below i are short
    contact_below = False  # an address, link or phone number below i
    nonblank_after = 0
    best = n
    for i in range(n - 1, low - 1, -1):
        stats.steps += 1
        stripped = segment[i].strip()
        if not stripped:
            continue
        nxt_ok = next_nonblank == n or ok[next_nonblank]
        sign_off_tail = short_tail and nonblank_after <= _SIG_MAX_LINES
        kind = _sig_kind(stripped)
        if kind == _SIG_DELIM:
            ok[i] = True
        elif kind == _SIG_RULE:
            # a mailing-list footer or a company block, not a section break in the text
            ok[i] = contact_below
        elif kind == _SIG_MOBILE:
            ok[i] = nxt_ok
        elif kind == _SIG_DASH_NAME:
            # "-Name", but not the last item of a "-item" list
            prev = next(
                (segment[k].strip() for k in range(i - 1, low - 1, -1) if segment[k].strip()), ""
            )
            ok[i] = nxt_ok and not prev.startswith(("-", "/", "~"))
        elif kind == -_SIG_VALEDICTION:
            ok[i] = nxt_ok
            kind = _SIG_VALEDICTION
        elif kind == _SIG_VALEDICTION:
            name = upcoming[0] if upcoming else ""
            ok[i] = bool(name) and _is_name(name) and _sig_kind(name) == 0 and sign_off_tail
            # "Cheers,\n-- \nBob": a sign-off right above another signature
            ok[i] = ok[i] or (nxt_ok and next_nonblank < n and kinds[next_nonblank] != kind)
        elif _is_name(stripped) and sign_off_tail:
            # "Jane Doe\nSupport Lead\nTel: ...\nE-Mail: ...": a contact block
            contacts = sum(1 for line in upcoming[:4] if _CONTACT.match(line[:_CAP]))
            if contacts >= 2:
                ok[i], kind = True, _SIG_CONTACT
        kinds[i] = kind
        if ok[i]:
            best = i
        short_tail = short_tail and len(stripped) <= _SIG_MAX_LINE
        contact_below = contact_below or (
            "@" in stripped[:_CAP]
            or "http" in stripped[:_CAP]
            or "www." in stripped[:_CAP]
            or _CONTACT.match(stripped[:_CAP]) is not None
        )
        nonblank_after += 1
        upcoming.insert(0, stripped)
        del upcoming[4:]
        next_nonblank = i
    return best, kinds[best] if best < n else 0


# --- assembly -----------------------------------------------------------------------


def _trim(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end]).rstrip()


def _little(texts: list[str]) -> bool:
    return sum(_words(t) for t in texts) <= _LITTLE_WORDS


def _lazy_continuations(doc: _Text, region: list[int]) -> None:
    """A wrapped quoted line loses its ">": "> see (http://x\\n_y=1)\\n>"."""
    kinds, lines = doc.kinds, doc.lines
    for i in range(1, doc.n - 1):
        doc.stats.steps += 1
        if region[i] != _OPEN or kinds[i] != _TEXT:
            continue
        if kinds[i - 1] != _QUOTE or kinds[i + 1] != _QUOTE:
            continue
        line = lines[i]
        first = line[:1]
        # a wrapped line starts oddly (space, "(", "_", lowercase) or holds a link,
        # or the quoted line above it was long
        if (
            not first.isalpha()
            or first.islower()
            or "://" in line[:_CAP]
            or len(lines[i - 1]) >= 65
        ):
            kinds[i] = _QUOTE


def _regions(doc: _Text) -> list[int]:
    """For every line: open (">" quoted or reply), quoted history, or forwarded content."""
    n, stats = doc.n, doc.stats
    headers = doc.headers()
    first_text = next((i for i in range(n) if doc.kinds[i] == _TEXT), n)
    stats.steps += n

    region = [_OPEN] * n
    cut_index: int | None = None
    for index, header in enumerate(headers):
        stats.steps += 1
        marked = doc.quote_follows(header.end)
        if header.kind != _ATTRIBUTION and first_text >= header.start and not marked:
            # a header block at the very top: the customer forwarded or pasted a message
            continue
        if header.kind == _FORWARD_MARK:
            own = [doc.lines[i] for i in range(header.start) if doc.kinds[i] == _TEXT]
            if _little(own):
                for i in range(header.start, n):
                    region[i] = _FORWARD
                break
        cut_index = index
        break

    if cut_index is not None:
        cut = headers[cut_index]
        interleaved = doc.quote_follows(cut.end) and cut_index == len(headers) - 1
        end = cut.end if interleaved else n
        for i in range(cut.start, end):
            region[i] = _QUOTED
    return region


def _split_text(text: str, stats: _Stats) -> ReplyParts:
    doc = _Text(text, stats)
    region = _regions(doc)
    _lazy_continuations(doc, region)

    segments: list[list[str]] = []
    forwarded: list[str] = []
    quoted: list[str] = []
    current: list[str] = []
    last_quoted = -2
    for i in range(doc.n):
        stats.steps += 1
        line = doc.lines[i]
        if region[i] == _FORWARD:
            forwarded.append(line)
            continue
        if region[i] == _QUOTED or doc.kinds[i] == _QUOTE:
            if current:
                segments.append(current)
                current = []
            if quoted and i != last_quoted + 1:
                quoted.append("")
            quoted.append(line)
            last_quoted = i
            continue
        current.append(line)
    if current:
        segments.append(current)

    bodies: list[str] = []
    signatures: list[tuple[str, bool]] = []
    for segment in segments:
        start, kind = _find_signature(segment, stats)
        body = _trim(segment[:start])
        if body:
            bodies.append(body)
        sig = _trim(segment[start:])
        if sig:
            signatures.append((sig, kind in _SOFT_SIGNATURES))
    if forwarded:
        bodies.append(_trim(forwarded))
    if not any(bodies) and signatures and all(soft for _, soft in signatures):
        # "Thanks, Bob" alone is the whole message, not a signature under one
        bodies = [sig for sig, _ in signatures]
        signatures = []
    return ReplyParts(
        reply="\n\n".join(b for b in bodies if b),
        quoted=_trim(quoted),
        signature="\n\n".join(sig for sig, _ in signatures),
    )


def split_reply(text: str) -> ReplyParts:
    """Split a plain-text body into the sender's reply, the quoted history and the signature."""
    return _split_text(text, _Stats())


def strip_reply(text: str) -> str:
    """Only what the sender wrote in this message."""
    return split_reply(text).reply


# --- HTML ---------------------------------------------------------------------------

# Elements holding the whole quoted history (attribution and quote together).
_CUT_ELEMENT_CLASSES = frozenset(
    {"gmail_quote", "gmail_quote_container", "yahoo_quoted", "protonmail_quote", "zmail_extra"}
)
# Elements after which everything is history (Outlook puts the quote in later siblings).
_CUT_TO_END_IDS = frozenset(
    {
        "divrplyfwdmsg",
        "x_divrplyfwdmsg",
        "appendonsend",
        "x_appendonsend",
        "olk_src_body_section",
        "stopspelling",
        "mail-editor-reference-message-container",
    }
)
_CUT_TO_END_CLASSES = frozenset({"outlookmessageheader"})
_SKIP_TAGS = frozenset({"head", "script", "style", "title", "template"})
_RULES_TRIED = 3  # <hr> lines looked at as the separator above a header block
_RULE_LOOKAHEAD = 2000  # characters of markup read below (and above) such an <hr>
_NAME_WORDS = 3  # "Bob<hr>From: ...": a name this short, in the <hr>'s own <div>


@dataclass(slots=True)
class _Blockquote:
    start: int
    start_end: int
    cite: bool  # type="cite" (Apple Mail, Thunderbird): always a quote
    gmail: bool  # class="gmail_quote" outside a gmail_quote div: formatting
    text_before: bool
    text_after: bool = False  # visible text follows it, outside every quote
    end: int = -1
    end_end: int = -1


@dataclass(frozen=True, slots=True)
class _Rule:
    """An <hr> outside quotes, and the innermost <div> it sits in."""

    offset: int
    end: int
    div_start: int | None  # where that <div> starts (None: not inside one)
    words_in_div: int  # visible words between the <div>'s start and the <hr>
    words_before_div: int  # visible words before the <div>


@dataclass(frozen=True, slots=True)
class _HtmlSplit:
    reply_html: str
    quoted_html: str
    all_quoted: bool  # every visible word sits in one plain top-level <blockquote>


class _HtmlScan(HTMLParser):
    """Finds quote containers and top-level blockquotes, by character offset."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.line_starts = [0]
        pos = html.find("\n")
        while pos != -1:
            self.line_starts.append(pos + 1)
            pos = html.find("\n", pos + 1)
        self.cuts: list[tuple[int, int]] = []
        self.cut_to_end: int | None = None
        self.blockquotes: list[_Blockquote] = []
        self._cut_tag: str | None = None
        self._cut_depth = 0
        self._cut_start = 0
        self._quote_depth = 0
        self._skip_depth = 0
        self._seen_text = False
        self.rules: list[_Rule] = []
        self._words = 0  # visible words so far, outside cut elements
        self._divs: list[tuple[int, int]] = []  # open <div>s: (offset, words before it)

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[min(line, len(self.line_starts)) - 1] + column

    def _tag_end(self, offset: int) -> int:
        end = self.html.find(">", offset)
        return len(self.html) if end == -1 else end + 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        if self.cut_to_end is not None:
            return
        if self._cut_tag is not None:
            self._cut_depth += tag == self._cut_tag
            return
        offset = self._offset()
        values = {name.lower(): (value or "") for name, value in attrs}
        classes = set(values.get("class", "").lower().split())
        element_id = values.get("id", "").lower()
        if element_id in _CUT_TO_END_IDS or classes & _CUT_TO_END_CLASSES:
            self.cut_to_end = offset
            return
        if tag != "blockquote" and classes & _CUT_ELEMENT_CLASSES:
            self._cut_tag, self._cut_depth, self._cut_start = tag, 1, offset
            return
        if tag == "blockquote":
            if self._quote_depth == 0:
                raw = self.get_starttag_text() or ""
                self.blockquotes.append(
                    _Blockquote(
                        start=offset,
                        start_end=offset + len(raw) if raw else self._tag_end(offset),
                        cite=values.get("type", "").lower() == "cite",
                        gmail="gmail_quote" in classes,
                        text_before=self._seen_text,
                    )
                )
            self._quote_depth += 1
        elif self._quote_depth == 0 and tag == "div":
            self._divs.append((offset, self._words))
        elif self._quote_depth == 0 and tag == "hr" and len(self.rules) < _RULES_TRIED:
            raw = self.get_starttag_text() or ""
            div_start, words_before = self._divs[-1] if self._divs else (None, self._words)
            self.rules.append(
                _Rule(
                    offset=offset,
                    end=offset + len(raw) if raw else self._tag_end(offset),
                    div_start=div_start,
                    words_in_div=self._words - words_before,
                    words_before_div=words_before,
                )
            )

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        if self.cut_to_end is not None:
            return
        if self._cut_tag is not None:
            if tag == self._cut_tag:
                self._cut_depth -= 1
                if self._cut_depth == 0:
                    self.cuts.append((self._cut_start, self._tag_end(self._offset())))
                    self._cut_tag = None
            return
        if tag == "blockquote" and self._quote_depth > 0:
            self._quote_depth -= 1
            if self._quote_depth == 0:
                offset = self._offset()
                self.blockquotes[-1].end = offset
                self.blockquotes[-1].end_end = self._tag_end(offset)
        elif tag == "div" and self._quote_depth == 0 and self._divs:
            self._divs.pop()

    def handle_data(self, data: str) -> None:
        if self._skip_depth or self._cut_tag is not None or self.cut_to_end is not None:
            return
        words = len(data.split())
        if not words:
            return
        self._seen_text = True
        self._words += words
        if self._quote_depth == 0 and self.blockquotes:
            self.blockquotes[-1].text_after = True

    def _name_above_header(self, rule: _Rule) -> bool:
        """Is this "<div>Bob<hr>From: ...</div>" below the reply: a short name sharing the
        <div> that holds the quoted message's header block? Then the whole <div> is history
        (as talon reads it). A reply that shares that <div>, or one longer than a name,
        is never dropped."""
        if rule.div_start is None or rule.words_before_div == 0:
            return False
        if not 0 < rule.words_in_div <= _NAME_WORDS:
            return False
        if rule.offset - rule.div_start > _RULE_LOOKAHEAD:
            return False
        name = html_to_text(self.html[rule.div_start : rule.offset]).strip()
        if "\n" in name or not _is_name(name, max_words=_NAME_WORDS):
            return False
        below = _Text(html_to_text(self.html[rule.end : rule.end + _RULE_LOOKAHEAD]), _Stats())
        first = below.next_nonblank[0]
        if first >= below.n or below.kinds[first] != _TEXT:
            return False
        header = below._header_at(first)
        return header is not None and header.kind in (_OUTLOOK, _ORIGINAL)

    def finish(self) -> _HtmlSplit:
        """The HTML without its quoted history, and the quoted history's HTML."""
        if self._cut_tag is not None:
            self.cuts.append((self._cut_start, len(self.html)))
        limit = len(self.html) if self.cut_to_end is None else self.cut_to_end
        for rule in self.rules:
            if (
                rule.div_start is not None
                and rule.div_start < limit
                and self._name_above_header(rule)
            ):
                limit = rule.div_start
                break
        plain = [q for q in self.blockquotes if not q.cite and not q.gmail]
        # nothing outside one plain <blockquote>: the sender passes a message on whole
        all_quoted = (
            len(self.blockquotes) == 1
            and len(plain) == 1
            and not plain[0].text_before
            and not plain[0].text_after
            and not self.cuts
            and limit == len(self.html)
        )
        edits: list[tuple[int, int, str]] = [(start, end, "") for start, end in self.cuts]
        last_plain = max(
            (i for i, q in enumerate(self.blockquotes) if not q.cite and not q.gmail), default=-1
        )
        for i, quote in enumerate(self.blockquotes):
            # a plain <blockquote> is indentation unless it is the last one, after text
            keep = quote.cite or (i == last_plain and quote.text_before and not quote.gmail)
            if keep:
                continue
            edits.append((quote.start, quote.start_end, "<div>"))
            if quote.end >= 0:
                edits.append((quote.end, quote.end_end, "</div>"))
        edits.sort()
        out: list[str] = []
        pos = 0
        for start, end, replacement in edits:
            if start < pos or end > limit:
                continue
            out.append(self.html[pos:start])
            out.append(replacement)
            pos = end
        out.append(self.html[pos:limit])
        quoted = [self.html[start:end] for start, end in self.cuts if end <= limit]
        quoted.append(self.html[limit:])
        return _HtmlSplit("".join(out), "".join(quoted), all_quoted)


def _starts_with_forward(text: str) -> bool:
    for line in text.split("\n", 20)[:20]:
        stripped = line.strip()
        if stripped:
            return len(stripped) <= _CAP and _separator(stripped) == _FORWARD_MARK
    return False


def split_reply_html(html: str) -> ReplyParts:
    """Like split_reply, for an HTML body; the parts are plain text.

    Two rules only markup can tell: a body that is all one plain <blockquote> (the
    sender passes a message on without a word of their own) is kept whole as the reply;
    and in "<div>Bob<hr>From: ...", a name sharing the <div> of the quoted message's
    header block, below the reply, goes to the history with it."""
    from functions.core.html import hostile_html, strip_tags

    if hostile_html(html):  # the stdlib parser below is quadratic on such markup
        return split_reply(strip_tags(html))
    scan = _HtmlScan(html)
    try:
        scan.feed(html)
        scan.close()
        split = scan.finish()
    except Exception:  # the stdlib parser has asserted on odd declarations: use all of it
        split = _HtmlSplit(html, "", all_quoted=False)
    text = html_to_text(split.reply_html)
    if split.all_quoted:
        # like a forward with no word of one's own: what they want us to read, whole
        # (splitting it would pass the quoted author's first lines off as the reply)
        return ReplyParts(reply=text.strip(), quoted="", signature="")
    parts = _split_text(text, _Stats())
    quoted_html = split.quoted_html
    cut_text = html_to_text(quoted_html) if quoted_html.strip() else ""
    if not cut_text:
        return parts
    if _starts_with_forward(cut_text) and _little([parts.reply]):
        reply = "\n\n".join(p for p in (parts.reply, cut_text) if p)
        return ReplyParts(reply=reply, quoted=parts.quoted, signature=parts.signature)
    quoted = "\n\n".join(p for p in (parts.quoted, cut_text) if p)
    return ReplyParts(reply=parts.reply, quoted=quoted, signature=parts.signature)
