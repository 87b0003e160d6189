"""Surveys under moto, from the table's stream to the answer pages and the report:
who is asked, on which channel, in which language; one-click scores that can change;
score links that a mail scanner's GET cannot answer; bad links that record nothing;
counters that never count twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import yaml

from functions.core.models import TicketStatus
from tests.helpers import make_mail

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SPANISH = (
    "Hola, mi pedido no ha llegado todavía y el seguimiento no muestra nada. ¿Me pueden ayudar?"
)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


class Forms(HTMLParser):
    """The forms of a page (id, action, hidden fields) and the scripts it loads."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, Any]] = {}
        self.scripts: list[str] = []
        self._form: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self._form = {"action": found.get("action"), "method": found.get("method")}
            self._form["fields"] = {}
            self.forms[found.get("id") or ""] = self._form
        elif tag == "input" and self._form is not None and found.get("type") == "hidden":
            self._form["fields"][found.get("name")] = found.get("value")
        elif tag == "script" and found.get("src"):
            self.scripts.append(str(found["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def forms_of(page: str) -> Forms:
    parser = Forms()
    parser.feed(page)
    return parser


class Surveys:
    def __init__(
        self,
        aws: Any,
        tmp_path: Any,
        monkeypatch: Any,
        change: Any = None,
        public_url: str | None = None,
    ) -> None:
        from chalice.config import Config
        from chalice.local import LocalGateway

        from functions.core import wiring
        from functions.survey import app as survey_app
        from functions.survey import wiring as survey_wiring
        from infra.local.resources import (
            DEMO_CONFIG,
            config_with_fake_platforms,
            create_demo_secrets,
        )
        from infra.local.streams import StreamPoller

        source = tmp_path / "source.yaml"
        data = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
        if change:
            change(data)
        source.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        path = config_with_fake_platforms(
            source,
            tmp_path / "config",
            "https://support.example",
            survey_links=public_url is None,
        )
        monkeypatch.setenv("HELPLINE_CONFIG", str(path))
        if public_url is not None:
            # what the survey stack does: its API's address in an SSM parameter
            aws.session.client("ssm").put_parameter(
                Name="/helpline/test/survey/public-url", Value=public_url, Type="String"
            )
            monkeypatch.setenv("HELPLINE_PUBLIC_URL_PARAMETER", "/helpline/test/survey/public-url")
        self.aws = aws
        self.components = wiring.build(wiring.Settings.from_env())
        create_demo_secrets(aws.session, self.components.config)
        self.now = [TUESDAY]
        clock = lambda: self.now[0]  # noqa: E731
        self.components.tickets.clock = clock
        self.service = survey_wiring.build(self.components)
        self.service.clock = clock
        survey_wiring.use(self.service)
        self.poller = StreamPoller(
            streams_client=aws.session.client("dynamodbstreams"),
            stream_arn=aws.resources.table_stream_arn,
            handler=survey_app.on_ticket_change,
            sqs_client=aws.session.client("sqs"),
            dlq_url=aws.resources.stream_dlq_url,
            start_at="TRIM_HORIZON",
        )
        self.poller.open()
        self.gateway = LocalGateway(survey_app.app, Config.create(chalice_app=survey_app.app))

    def mail_ticket(self, text: str = SPANISH, sender: str = "Ana García <ana@example.com>") -> str:
        outcome = self.aws.deliver(
            make_mail(sender=sender, text=text, subject="Mi pedido"), received_at=TUESDAY
        )
        return str(outcome["ticket_id"])

    def solve(self, ticket_id: str, by: str = "lucia@helpline.test", *, reply: bool = True) -> None:
        if reply:
            self.components.tickets.reply(ticket_id, "Ya está en camino.", agent=by)
        self.components.tickets.resolve(ticket_id, actor=by)
        self.stream()

    def stream(self) -> None:
        while self.poller.poll_once():
            pass

    def survey_mails(self) -> list[Any]:
        return [m for m in self.aws.sent_mail() if m.get("X-Helpline-Survey")]

    def links(self, mail: Any) -> list[str]:
        parser = Links()
        parser.feed(mail.get_body(("html",)).get_content())
        return [h for h in parser.hrefs if "/survey/" in h]

    def get(self, url: str, method: str = "GET") -> tuple[int, str]:
        response = self.get_response(url, method)
        return int(response["statusCode"]), str(response.get("body") or "")

    def get_response(self, url: str, method: str = "GET") -> dict[str, Any]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return dict(self.gateway.handle_request(method=method, path=path, headers={}, body=b""))

    def click(self, link: str) -> tuple[int, str]:
        """What a person's browser does with a score link: open it, and send the form
        its page submits (the page's script, or the "Send my rating" button)."""
        status, page = self.get(link)
        form = forms_of(page).forms.get("send-score")
        if form is None:  # nothing to send (a bad link, or the score already recorded)
            return status, page
        assert form["method"] == "post"
        return self.post(form["action"], urlencode(form["fields"]))

    def post(self, url: str, form: str) -> tuple[int, str]:
        response = self.gateway.handle_request(
            method="POST",
            path=urlsplit(url).path,
            headers={"content-type": "application/x-www-form-urlencoded"},
            body=form.encode(),
        )
        return int(response["statusCode"]), str(response.get("body") or "")

    def report(self, by: str = "channel") -> dict[str, Any]:
        from functions.core import reports

        cells = self.service.surveys.cells(by, "2026-11-01", "2026-12-31")
        built = reports.build_report(cells, by=by, granularity="day")
        return built.to_dict()

    def events(self, ticket_id: str) -> list[Any]:
        return self.components.store.ticket_bundle(ticket_id).events

    def answered(self, ticket_id: str) -> list[Any]:
        return [e.detail["score"] for e in self.events(ticket_id) if e.type == "survey_answered"]


@pytest.fixture
def surveys(aws, tmp_path, monkeypatch):
    from functions.survey import wiring as survey_wiring

    yield Surveys(aws, tmp_path, monkeypatch)
    survey_wiring.use(None)


def test_a_solved_ticket_gets_a_csat_mail_in_the_customers_language(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    [mail] = surveys.survey_mails()
    assert "ana@example.com" in mail.destinations
    assert mail["Content-Language"] == "es"
    assert ticket_id in mail["Subject"]
    links = surveys.links(mail)
    assert [link.rsplit("score=", 1)[1] for link in links if "score=" in link] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert all(link.startswith("https://support.example/survey/") for link in links)
    assert any(e.type == "survey_sent" for e in surveys.events(ticket_id))


def test_without_a_base_url_links_go_to_the_address_the_survey_stack_keeps(
    aws, tmp_path, monkeypatch
):
    """surveys.base_url left out: the links use the survey API's public address, which
    only the deployment knows (its stack writes it to SSM)."""
    from functions.survey import wiring as survey_wiring

    deployed = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/api"
    surveys = Surveys(aws, tmp_path, monkeypatch, public_url=deployed)
    try:
        assert surveys.components.config.surveys.base_url == ""
        ticket_id = surveys.mail_ticket()
        surveys.solve(ticket_id)
        [mail] = surveys.survey_mails()
        links = surveys.links(mail)
        assert links and all(link.startswith(deployed + "/survey/") for link in links)
    finally:
        survey_wiring.use(None)


def test_one_click_records_the_score_and_a_second_click_changes_it(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    links = surveys.links(surveys.survey_mails()[0])
    five = next(link for link in links if link.endswith("score=5"))
    two = next(link for link in links if link.endswith("score=2"))
    status, page = surveys.click(five)
    assert status == 200 and 'lang="es"' in page and "<form" in page
    for _ in range(100):  # the same link clicked again and again is one answer
        surveys.click(five)
    report = surveys.report()
    assert report["total"]["csat"] == 100.0 and report["total"]["csat_responses"] == 1
    surveys.click(two)
    [survey_id] = [e.detail["survey"] for e in surveys.events(ticket_id) if e.type == "survey_sent"]
    response = surveys.service.surveys.response(survey_id)
    assert response.score == 2 and [h.score for h in response.history] == [5]
    report = surveys.report()
    assert report["total"]["csat"] == 0.0 and report["total"]["csat_scores"]["5"] == 0
    assert report["total"]["csat_scores"]["2"] == 1 and report["total"]["response_rate"] == 1.0


def test_a_mail_scanner_opening_every_score_link_records_nothing(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    links = [link for link in surveys.links(surveys.survey_mails()[0]) if "score=" in link]
    for link in links:  # Safe Links, Mimecast...: a HEAD, a GET, again a while later
        surveys.get(link, method="HEAD")
        for _ in range(2):
            status, page = surveys.get(link)
            assert status == 200 and 'lang="es"' in page
    assert surveys.answered(ticket_id) == []
    [survey_id] = [e.detail["survey"] for e in surveys.events(ticket_id) if e.type == "survey_sent"]
    assert surveys.service.surveys.response(survey_id) is None
    total = surveys.report()["total"]
    assert total["csat_responses"] == 0 and sum(total["csat_scores"].values()) == 0


def test_a_score_links_page_posts_the_chosen_score_which_records_it(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    four = next(
        link for link in surveys.links(surveys.survey_mails()[0]) if link.endswith("score=4")
    )
    shown = surveys.get_response(four)
    assert shown["statusCode"] == 200 and surveys.answered(ticket_id) == []
    page = shown["body"]
    found = forms_of(page)
    assert found.forms["send-score"] == {
        "action": four.split("?")[0],
        "method": "post",
        "fields": {"score": "4"},
    }
    assert "<strong>4 – " in page and "Enviar mi valoración" in page
    # the script that sends it is the survey function's own: no inline script allowed
    csp = dict(
        item.strip().split(" ", 1)
        for item in shown["headers"]["Content-Security-Policy"].split(";")
    )
    assert csp["script-src"] == "'self'" and csp["form-action"] == "'self'"
    [script] = found.scripts
    assert script.startswith("https://support.example/survey/")
    served = surveys.get_response(script)
    assert served["statusCode"] == 200
    assert served["headers"]["Content-Type"].startswith("text/javascript")
    assert 'getElementById("send-score")' in served["body"] and ".submit()" in served["body"]

    status, page = surveys.post(four.split("?")[0], "score=4")
    assert status == 200 and "<textarea" in page and 'aria-current="true"' in page
    assert surveys.answered(ticket_id) == [4]
    [answered] = [e for e in surveys.events(ticket_id) if e.type == "survey_answered"]
    assert answered.detail["via"] == "link" and answered.detail["previous"] is None
    assert surveys.report()["total"]["csat_scores"]["4"] == 1


def test_an_arabic_score_links_page_reads_right_to_left_and_records_nothing(surveys):
    ticket_id = surveys.mail_ticket(
        text="مرحبا، لم يصل طلبي حتى الآن ورقم التتبع لا يعمل. هل يمكنكم مساعدتي من فضلكم؟",
        sender="Layla <layla@example.com>",
    )
    surveys.solve(ticket_id)
    two = next(
        link for link in surveys.links(surveys.survey_mails()[0]) if link.endswith("score=2")
    )
    status, page = surveys.get(two)
    assert status == 200 and 'lang="ar" dir="rtl"' in page
    assert "<strong>2 – " in page and "أرسل تقييمي" in page
    assert surveys.answered(ticket_id) == []
    surveys.click(two)
    assert surveys.answered(ticket_id) == [2]


def test_tampered_and_expired_links_get_a_clear_page_and_record_nothing(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    five = next(
        link for link in surveys.links(surveys.survey_mails()[0]) if link.endswith("score=5")
    )
    path, query = five.split("?")
    status, page = surveys.get(path[:-3] + "abc?" + query)
    assert status == 404 and "<form" not in page
    assert surveys.post(path[:-3] + "abc", "score=5")[0] == 404
    status, page = surveys.click(path + "?score=9")  # not on the 1-5 scale
    assert status == 400 and "send-score" not in page
    assert surveys.post(path, "score=9")[0] == 400
    surveys.now[0] = TUESDAY + timedelta(days=31)
    status, page = surveys.get(five)
    assert status == 410
    assert surveys.post(path, "score=5")[0] == 410
    assert surveys.report()["total"]["csat_responses"] == 0
    assert surveys.answered(ticket_id) == []


def test_comments_are_kept_as_text_and_too_long_ones_are_refused(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    link = next(
        link for link in surveys.links(surveys.survey_mails()[0]) if link.endswith("score=4")
    )
    surveys.click(link)
    base = link.split("?")[0]
    status, page = surveys.post(base, "score=4&comment=" + "x" * 5001)
    assert status == 400 and 'aria-invalid="true"' in page
    status, page = surveys.post(
        base, "score=4&comment=%3Cscript%3Ealert(1)%3C%2Fscript%3E+Muy+bien"
    )
    assert status == 200
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    [survey_id] = [e.detail["survey"] for e in surveys.events(ticket_id) if e.type == "survey_sent"]
    assert (
        surveys.service.surveys.response(survey_id).comment == "<script>alert(1)</script> Muy bien"
    )


def test_a_low_score_with_a_comment_asks_the_team_to_call_back(aws, surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    link = next(
        link for link in surveys.links(surveys.survey_mails()[0]) if link.endswith("score=1")
    )
    surveys.click(link)
    aws.queue_messages("spanish")  # the new-ticket message
    surveys.post(link.split("?")[0], "score=1&comment=Nadie+me+respondi%C3%B3+a+tiempo")
    [follow_up] = aws.queue_messages("spanish")
    assert follow_up["event"] == "low_score_follow_up" and follow_up["ticket_id"] == ticket_id
    assert any(e.type == "low_score_follow_up" for e in surveys.events(ticket_id))


def test_a_follow_up_that_could_not_be_queued_is_queued_when_the_form_is_sent_again(
    aws, surveys, monkeypatch
):
    from botocore.exceptions import ClientError

    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    link = next(
        link for link in surveys.links(surveys.survey_mails()[0]) if link.endswith("score=1")
    )
    surveys.click(link)
    aws.queue_messages("spanish")  # the new-ticket message
    publisher = surveys.service.publisher
    real_publish, failures = publisher.publish, []

    def throttled_once(message):  # SQS throttles the first follow-up
        if not failures:
            failures.append(message)
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "SendMessage")
        return real_publish(message)

    monkeypatch.setattr(publisher, "publish", throttled_once)
    form = "score=1&comment=Nadie+me+respondi%C3%B3+a+tiempo"
    try:
        status, _ = surveys.post(link.split("?")[0], form)
    except ClientError:
        status = 500
    assert status >= 500 and failures
    assert aws.queue_messages("spanish") == []
    surveys.post(link.split("?")[0], form)  # the customer sends the form again
    surveys.post(link.split("?")[0], form + "+de+verdad")  # and once more, after it worked
    [follow_up] = aws.queue_messages("spanish")
    assert follow_up["event"] == "low_score_follow_up" and follow_up["ticket_id"] == ticket_id
    assert [e.type for e in surveys.events(ticket_id)].count("low_score_follow_up") == 1


def test_a_retried_stream_record_sends_no_second_survey_and_counts_nothing_twice(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    # Lambda may deliver the same records again: replay the whole stream
    from infra.local.streams import StreamPoller

    again = StreamPoller(
        streams_client=surveys.aws.session.client("dynamodbstreams"),
        stream_arn=surveys.aws.resources.table_stream_arn,
        handler=surveys.poller.handler,
        sqs_client=surveys.aws.session.client("sqs"),
        dlq_url=None,
        start_at="TRIM_HORIZON",
    )
    again.open()
    assert again.poll_once() > 0
    assert len(surveys.survey_mails()) == 1
    total = surveys.report()["total"]
    assert (
        total["tickets_created"] == 1
        and total["tickets_solved"] == 1
        and total["surveys_sent"] == 1
    )


def test_a_ticket_solved_automatically_or_by_a_robot_is_not_surveyed(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id, by="helpline", reply=False)
    assert surveys.survey_mails() == []
    reasons = [e.detail["reason"] for e in surveys.events(ticket_id) if e.type == "survey_skipped"]
    assert reasons and "automatic" in reasons[0].lower()


def test_a_reopened_ticket_is_not_surveyed_when_the_delay_ends(aws, tmp_path, monkeypatch):
    def delayed(config: dict[str, Any]) -> None:
        config["surveys"]["delay_minutes"] = 60

    surveys = Surveys(aws, tmp_path, monkeypatch, delayed)
    ticket_id = surveys.mail_ticket()
    surveys.solve(ticket_id)
    assert surveys.survey_mails() == []  # scheduled for an hour later
    surveys.now[0] = TUESDAY + timedelta(minutes=30)
    surveys.components.tickets.set_status(ticket_id, TicketStatus.OPEN, actor="customer")
    surveys.stream()
    surveys.now[0] = TUESDAY + timedelta(hours=2)
    assert surveys.service.send_due()["skipped"] == 1
    assert surveys.survey_mails() == []


def test_the_quiet_period_holds_back_a_second_survey(aws, tmp_path, monkeypatch):
    def quiet(config: dict[str, Any]) -> None:
        config["surveys"]["quiet_period_days"] = 14

    surveys = Surveys(aws, tmp_path, monkeypatch, quiet)
    first = surveys.mail_ticket()
    surveys.solve(first)
    second = surveys.mail_ticket(
        text="Hola otra vez, ahora tengo un problema con la factura de este mes."
    )
    surveys.solve(second)
    assert len(surveys.survey_mails()) == 1
    assert any(e.type == "survey_skipped" for e in surveys.events(second))


def test_nps_is_asked_on_its_own_cadence(aws, tmp_path, monkeypatch):
    def nps(config: dict[str, Any]) -> None:
        config["surveys"]["nps"] = {"enabled": True, "every_days": 90}

    surveys = Surveys(aws, tmp_path, monkeypatch, nps)
    first = surveys.mail_ticket()
    surveys.solve(first)
    second = surveys.mail_ticket(
        text="Hola otra vez, ahora tengo un problema con la factura de este mes."
    )
    surveys.solve(second)
    kinds = [m["X-Helpline-Survey"] and json.dumps(m["Subject"]) for m in surveys.survey_mails()]
    assert len(kinds) == 2
    mails = surveys.survey_mails()
    nps_links = surveys.links(mails[0])
    assert [link.rsplit("=", 1)[1] for link in nps_links if "score=" in link] == [
        str(n) for n in range(11)
    ]
    csat_links = surveys.links(mails[1])
    assert len([link for link in csat_links if "score=" in link]) == 5


def test_reports_count_tickets_first_responses_and_resolutions(surveys):
    ticket_id = surveys.mail_ticket()
    surveys.now[0] = TUESDAY + timedelta(hours=2)
    surveys.solve(ticket_id)
    total = surveys.report("team")["total"]
    assert total["tickets_created"] == 1 and total["tickets_solved"] == 1
    assert total["first_response_hours"]["calendar"]["count"] == 1
    by_team = {row["value"]: row for row in surveys.report("team")["by_value"]}
    assert by_team["spanish"]["tickets_solved"] == 1
    by_agent = {row["value"]: row for row in surveys.report("agent")["by_value"]}
    assert by_agent["lucia@helpline.test"]["tickets_solved"] == 1
