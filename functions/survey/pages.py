"""The survey answer pages: GET /survey/{token}?score=N and POST /survey/{token}.

A GET records nothing: mail security scanners (Safe Links, Mimecast, Proofpoint...)
open every link in a message, so a score link that recorded on GET would be "clicked"
by a robot. It shows the chosen score in a form that posts it, and a small script
served by this function (GET /survey/assets/submit.js) submits that form as the page
loads: a person still rates with one click. Without JavaScript the form's "Send my
rating" button does it. HEAD is not routed at all.

The POST of a score records it and shows a thank-you page with an optional comment
form; a second click changes the score (the last one wins, the history is kept). The
comment form posts the score with the comment. An expired or tampered link gets a
clear page and records nothing. Pages are plain HTML from
templates/survey/page_*.html.j2, localized to the survey's language (right to left for
Arabic).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from functions.core import surveys
from functions.core.errors import RejectedInput
from functions.survey.service import SurveyService

MAX_FORM_BYTES = 64 * 1024
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the address: never pass it on
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; form-action 'self'"
    ),
}
# under /survey/ like the pages, so whatever serves base_url's /survey/ serves it too
SCRIPT_PATH = "/survey/assets/submit.js"
SCRIPT = (Path(__file__).parent / "submit.js").read_text(encoding="utf-8")
SCRIPT_HEADERS = {
    "Content-Type": "text/javascript; charset=utf-8",
    "Cache-Control": "public, max-age=3600",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True, slots=True)
class Page:
    status: int
    html: str


class SurveyPages:
    def __init__(self, service: SurveyService) -> None:
        self.service = service

    def _render(self, name: str, locale: str | None, variables: Mapping[str, Any]) -> str:
        brand = self.service.config.brand
        rendered = self.service.renderer.render(
            "survey",
            name,
            locale or self.service.config.languages.default,
            {
                "brand": {
                    "name": brand.name,
                    "support_address": brand.support_address,
                    "website": brand.website,
                },
                **variables,
            },
        )
        return rendered.html or rendered.text

    def _invalid(self, error: RejectedInput, locale: str | None = None) -> Page:
        reason = surveys.invalid_link_reason(error)
        return Page(
            410 if reason == "expired" else 404,
            self._render("page_invalid", locale, {"reason": reason}),
        )

    def _thanks(
        self,
        survey: surveys.Survey,
        token: str,
        score: int | None,
        *,
        comment: str = "",
        error: str | None = None,
        status: int = 200,
        send_score: int | None = None,
    ) -> Page:
        service = self.service
        choices = service._choices(survey.kind, survey.language)
        base = service.base_url
        return Page(
            status,
            self._render(
                "page_thanks",
                survey.language,
                {
                    "kind": survey.kind,
                    "score": score,
                    "links": surveys.survey_links(base, token, choices),
                    "comment_action": surveys.survey_url(base, token),
                    "comment": comment,
                    "comment_max_chars": service.settings.comment_max_chars,
                    "comment_error": error,
                    "send_score": send_score,
                    "send_script": base.rstrip("/") + SCRIPT_PATH,
                },
            ),
        )

    def get(self, token: str, params: Mapping[str, str]) -> Page:
        try:
            survey = self.service.read_link(token)
        except RejectedInput as error:
            return self._invalid(error)
        response = self.service.surveys.response(survey.id)
        current = response.score if response else None
        comment = response.comment if response else ""
        if "score" not in params:
            return self._thanks(survey, token, current, comment=comment)
        # the same checks as recording, so a bad link says so now, not after the POST
        try:
            score = surveys.parse_score(survey.kind, params["score"])
        except RejectedInput:
            return self._thanks(survey, token, current, status=400)
        if survey.is_expired(self.service.clock()):
            closed = RejectedInput("expired_token", "this survey has closed", status=410)
            return self._invalid(closed, survey.language)
        if score == current:
            return self._thanks(survey, token, current, comment=comment)  # nothing to send
        return self._thanks(survey, token, current, send_score=score)

    def _record(
        self, survey: surveys.Survey, token: str, raw_score: str, current: surveys.Response | None
    ) -> Page:
        """Record the score a link's page posted (its script, or the person's click)."""
        try:
            answer = self.service.answer(survey, raw_score, via="link")
        except RejectedInput as error:
            if error.code == "expired_token":
                return self._invalid(error, survey.language)
            return self._thanks(survey, token, current.score if current else None, status=400)
        return self._thanks(survey, token, answer.response.score, comment=answer.response.comment)

    def post(self, token: str, body: bytes) -> Page:
        try:
            survey = self.service.read_link(token)
        except RejectedInput as error:
            return self._invalid(error)
        if len(body) > MAX_FORM_BYTES:
            return self._thanks(survey, token, None, error="too_long", status=413)
        form = {
            k: v[0]
            for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
        current = self.service.surveys.response(survey.id)
        if "comment" not in form:  # a score link's page, not the comment form
            return self._record(survey, token, form.get("score", ""), current)
        score = form.get("score") or (str(current.score) if current else None)
        if score is None:
            return self._thanks(survey, token, None, comment=form.get("comment", ""), status=400)
        try:
            answer = self.service.comment(survey, score, form.get("comment", ""))
        except RejectedInput as error:
            if error.code == "comment_too_long":
                return self._thanks(
                    survey,
                    token,
                    current.score if current else None,
                    comment=form.get("comment", ""),
                    error="too_long",
                    status=400,
                )
            if error.code == "expired_token":
                return self._invalid(error, survey.language)
            return self._thanks(survey, token, current.score if current else None, status=400)
        return Page(
            200,
            self._render(
                "page_comment_saved", survey.language, {"comment": answer.response.comment}
            ),
        )
