"""The survey answer pages: GET /survey/{token}?score=N and POST /survey/{token}.

One click records the score and shows a thank-you page with an optional comment form;
a second click changes the score (the last one wins, the history is kept). An expired
or tampered link gets a clear page and records nothing. Pages are plain HTML from
templates/survey/page_*.html.j2, localized to the survey's language (right to left for
Arabic), and work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
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
    ) -> Page:
        service = self.service
        choices = service._choices(survey.kind, survey.language)
        base = service.settings.base_url
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
                },
            ),
        )

    def get(self, token: str, params: Mapping[str, str]) -> Page:
        try:
            survey = self.service.read_link(token)
        except RejectedInput as error:
            return self._invalid(error)
        response = self.service.surveys.response(survey.id)
        if "score" not in params:
            return self._thanks(
                survey,
                token,
                response.score if response else None,
                comment=response.comment if response else "",
            )
        try:
            answer = self.service.answer(survey, params["score"], via="link")
        except RejectedInput as error:
            if error.code == "expired_token":
                return self._invalid(error, survey.language)
            return self._thanks(survey, token, response.score if response else None, status=400)
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
