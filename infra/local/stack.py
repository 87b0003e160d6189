"""`helpline dev`: the whole system on a laptop, on 127.0.0.1 only.

- an embedded AWS: moto's ThreadedMotoServer, with the shared resources created from
  infra/shared.yaml through its CloudFormation;
- an SMTP listener that does what SES receiving does (store the raw mail in the bucket,
  notify email_ingest) through Lambda-like asynchronous invocation with retries and a
  dead-letter queue;
- an HTTP server with the ticket pages and the small API the CLI uses.

The functions run in this process, invoked through their real Chalice entry points.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.core.models import Channel
from infra.local.resources import DEMO_CONFIG
from infra.local.state import DevState, local_aws_environment, remove_state, write_state

log = logging.getLogger("helpline.dev")
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class DevOptions:
    aws_port: int = 4566
    http_port: int = 8080
    smtp_port: int = 2525
    config_path: Path = DEMO_CONFIG
    state_dir: Path = Path(".helpline")
    retry_delays: tuple[float, ...] = (1.0, 2.0)
    verbose: bool = False
    faults: list[str] = field(default_factory=list)  # "service.Operation=N[:kind]"
    extra_env: dict[str, str] = field(default_factory=dict)
    chat_tick_seconds: float = 15.0  # how often the chat housekeeping schedule fires
    sla_tick_seconds: float = 60.0  # the SLA timer's schedule (every minute, as deployed)


class DevStack:
    def __init__(self, options: DevOptions) -> None:
        self.options = options
        self.aws_port = options.aws_port or free_port()
        self.http_port = options.http_port or free_port()
        self.smtp_port = options.smtp_port or free_port()
        self._moto: Any = None
        self._smtp: Any = None
        self._runner: Any = None
        self._invokers: list[Any] = []
        self._stop = threading.Event()
        self._bridge: Any = None
        self._poller: Any = None
        self.survey_app: Any = None
        self._timers: list[threading.Thread] = []
        self.secrets: dict[str, str] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        _configure_logging(self.options.verbose)
        try:
            asyncio.run(self._main())
        except _StartupError as exc:
            print(f"helpline dev: {exc}", file=sys.stderr, flush=True)
            return 1
        return 0

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await loop.run_in_executor(None, self._start_backend)
            await self._start_web()
            self._announce()
            await stop.wait()
        finally:
            print("helpline dev: stopping", file=sys.stderr, flush=True)
            await self._shutdown()

    def _start_backend(self) -> None:
        from functions.core.config import load_config
        from infra.local.resources import config_with_fake_platforms

        # the functions run with a copy of the config whose platform APIs are the fake here
        self.effective_config = config_with_fake_platforms(
            Path(self.options.config_path),
            Path(self.options.state_dir) / "config",
            f"http://{HOST}:{self.http_port}",
        )
        config = load_config(self.effective_config)
        self.config = config
        for port in (self.aws_port, self.http_port, self.smtp_port):
            _require_free(port)

        # 1. the embedded AWS
        from moto.server import ThreadedMotoServer

        from infra.local import moto_patches

        moto_patches.install()
        self._moto = ThreadedMotoServer(ip_address=HOST, port=self.aws_port, verbose=False)
        self._moto.start()
        self.aws_endpoint = f"http://{HOST}:{self.aws_port}"
        os.environ.update(local_aws_environment(self.aws_endpoint))
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if self.options.verbose else "WARNING")
        os.environ.update(self.options.extra_env)

        import boto3

        from functions.core import aws as aws_clients
        from infra.local.resources import create_shared_stack, verify_sender_domain

        aws_clients.reset_clients()
        if self.options.faults:
            from infra.local.faults import FaultInjector

            injector = FaultInjector.parse(self.options.faults)
            aws_clients.add_session_hook(injector.install)
            log.warning(
                "injecting faults into the functions' AWS calls: %s", ", ".join(self.options.faults)
            )
        session = boto3.session.Session()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("moto").setLevel(logging.ERROR)
            self.resources = create_shared_stack(session, stage="dev")
        domains = {
            config.brand.message_id_domain,
            *(a.split("@", 1)[1] for a in config.email.addresses),
        }
        for domain in sorted(domains):
            verify_sender_domain(session, domain)
        self.function_env = self.resources.environment(config_path=self.effective_config)
        http = f"http://{HOST}:{self.http_port}"
        # chat_ws pushes through the Management API, which this stack answers itself
        self.function_env["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = http
        self.function_env["HELPLINE_CHAT_WS_URL"] = f"ws://{HOST}:{self.http_port}/chat"
        os.environ.update(self.function_env)
        from infra.local.resources import create_demo_secrets

        self.secrets = create_demo_secrets(session, config)

        # 2. the functions, through their real entry points
        from functions.email_ingest import app as email_app
        from functions.email_ingest import wiring as email_wiring
        from infra.local.invoker import AsyncInvoker

        email_wiring.use(None)
        self.email_invoker = AsyncInvoker(
            "email_ingest",
            email_app.on_inbound_mail,
            dlq_url=self.resources.mail_dlq_url,
            sqs_client=session.client("sqs"),
            retry_delays=self.options.retry_delays,
        )
        self._invokers.append(self.email_invoker)

        from functions.chat_ws import app as chat_app
        from functions.chat_ws import wiring as chat_wiring
        from functions.social_dm import app as social_app
        from functions.social_dm import wiring as social_wiring

        chat_wiring.use(None)
        social_wiring.use(None)
        self.chat_app = chat_app
        self.social_app = social_app
        if config.surveys.enabled:
            from functions.survey import app as survey_app
            from functions.survey import wiring as survey_wiring
            from infra.local.streams import StreamPoller

            survey_wiring.use(None)
            self.survey_app = survey_app
            self._poller = StreamPoller(
                streams_client=session.client("dynamodbstreams"),
                stream_arn=self.resources.table_stream_arn,
                handler=survey_app.on_ticket_change,
                sqs_client=session.client("sqs"),
                dlq_url=self.resources.stream_dlq_url or None,
            )
            self._poller.start()
            self._every(self.options.chat_tick_seconds, "survey schedule", survey_wiring.send_due)
        from functions.sla_timer import wiring as sla_wiring

        sla_wiring.use(None)
        self._every(self.options.sla_tick_seconds, "SLA pass", sla_wiring.run)
        if config.chat.enabled:
            self._every(
                self.options.chat_tick_seconds, "chat housekeeping", chat_wiring.housekeeping
            )

        # 3. SES receiving, as an SMTP server
        from aiosmtpd.controller import Controller

        from infra.local.smtp import SesLikeHandler

        handler = SesLikeHandler(
            s3_client=session.client("s3"),
            bucket=self.resources.bucket,
            topic_arn=self.resources.inbound_topic_arn,
            domains=domains | {a.split("@", 1)[1] for a in config.email.addresses},
            deliver=self._deliver_mail,
            max_bytes=config.email.max_message_mb * 1024 * 1024,
        )
        self._smtp = Controller(
            handler, hostname=HOST, port=self.smtp_port, server_hostname="helpline.local"
        )
        self._smtp.start()
        self.session = session

    def _every(self, seconds: float, name: str, job: Any) -> None:
        """What an EventBridge schedule does for a function: call it on a timer."""

        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    job()
                except Exception:
                    log.exception("%s failed", name)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._timers.append(thread)

    def _deliver_mail(self, event: dict[str, Any]) -> None:
        record = self.email_invoker.invoke(event)

        def report() -> None:
            record.done.wait()
            for outcome in record.result or []:
                if outcome.get("ticket_id"):
                    log.info(
                        "mail -> %s ticket %s (queue %s, reply %s)",
                        outcome["status"],
                        outcome["ticket_id"],
                        outcome.get("queue"),
                        outcome.get("reply"),
                    )
                else:
                    log.info("mail -> %s (%s)", outcome["status"], outcome.get("reason"))
            if record.dead_lettered:
                log.error(
                    "mail failed %d times and went to the dead-letter queue: %s",
                    record.attempts,
                    record.error,
                )

        threading.Thread(target=report, daemon=True).start()

    async def _start_web(self) -> None:
        from aiohttp import web

        from functions.core import wiring
        from functions.core.tickets import TicketService
        from functions.email_ingest import wiring as email_wiring
        from infra.admin import Admin
        from infra.local.outbox import Outbox
        from infra.local.web import WebApp

        components = wiring.build(wiring.Settings.from_env(), config=self.config)
        tickets = TicketService(
            config=components.config,
            store=components.store,
            senders=components.senders,
            renderer=components.renderer,
        )
        from functions.social_dm import wiring as social_wiring
        from functions.survey import wiring as survey_wiring

        admin = Admin(
            store=components.store,
            email=email_wiring.service(),
            sqs_client=self.session.client("sqs"),
            mail_dlq_url=self.resources.mail_dlq_url,
            social=social_wiring.service(),
            survey=survey_wiring.service() if self.config.surveys.enabled else None,
            stream_dlq_url=self.resources.stream_dlq_url or None,
            blobs=components.blobs,
        )
        self.outbox = Outbox()
        from infra.local.fake_platforms import FakePlatforms

        instagram_tokens = {
            self.secrets[str(ref)]: "instagram"
            for ref in self.config.social.accounts(Channel.INSTAGRAM).values()
            if str(ref) in self.secrets
        }
        self.fake_platforms = FakePlatforms(instagram_tokens)
        self.outbox.extra_sources.append(self.fake_platforms)
        from infra.local.chat_bridge import ChatBridge
        from infra.local.gateway import ChaliceRoutes

        self._bridge = ChatBridge(
            connect=self.chat_app.connect,
            message=self.chat_app.message,
            disconnect=self.chat_app.disconnect,
            host=f"{HOST}:{self.http_port}",
        )
        chat_routes = ChaliceRoutes(self.chat_app.app, name="chat_ws")
        social_routes = ChaliceRoutes(self.social_app.app, name="social_dm")
        survey_routes = (
            [
                web.get(
                    "/survey/{token}", ChaliceRoutes(self.survey_app.app, name="survey").handle
                ),
                web.post(
                    "/survey/{token}", ChaliceRoutes(self.survey_app.app, name="survey").handle
                ),
            ]
            if self.survey_app is not None
            else []
        )
        webapp = WebApp(
            store=components.store,
            tickets=tickets,
            outbox=self.outbox,
            quarantine=admin.entries,
            page_context={
                "support_address": self.config.brand.support_address,
                "smtp_port": self.smtp_port,
                "widget_url": "/chat/widget.js",
            },
            extra_routes=[
                *self._bridge.routes(),
                web.post("/chat/session", chat_routes.handle),
                web.options("/chat/session", chat_routes.handle),
                web.get("/chat/widget.js", chat_routes.handle),
                web.get("/webhooks/meta", social_routes.handle),
                web.post("/webhooks/meta", social_routes.handle),
                web.post("/webhooks/telegram", social_routes.handle),
                web.get("/webhooks/x", social_routes.handle),
                web.post("/webhooks/x", social_routes.handle),
                *self.fake_platforms.routes(),
                *survey_routes,
            ],
            agents=self._agent_tokens,
        )
        self._runner = web.AppRunner(webapp.application(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.http_port)
        await site.start()

    def _agent_tokens(self, email: str | None) -> Any:
        """The agent console's sign-in on the local stack: the config's agents, and a
        token for one of them (what `helpline agents token EMAIL` prints)."""
        from functions.chat_ws import wiring as chat_wiring

        if email is None:
            return [
                {
                    "email": a.email,
                    "name": a.name,
                    "languages": list(a.languages),
                    "max_chats": a.max_chats,
                }
                for a in self.config.agents
            ]
        return {
            "token": chat_wiring.service().agent_token(email),
            "ws_url": f"ws://{HOST}:{self.http_port}/chat",
        }

    def _webhook_secrets(self) -> dict[str, str]:
        """The demo secrets a person needs to sign test deliveries with curl."""
        social = self.config.social
        named = {
            "meta_app_secret": social.meta.app_secret if social.meta else None,
            "meta_verify_token": social.meta.verify_token if social.meta else None,
            "telegram_secret_token": social.telegram.secret_token if social.telegram else None,
            "x_consumer_secret": social.x.consumer_secret if social.x else None,
        }
        return {name: self.secrets[str(ref)] for name, ref in named.items() if ref is not None}

    def _announce(self) -> None:
        http_url = f"http://{HOST}:{self.http_port}"
        state = DevState(
            pid=os.getpid(),
            aws_endpoint=self.aws_endpoint,
            http_url=http_url,
            smtp_host=HOST,
            smtp_port=self.smtp_port,
            support_address=self.config.brand.support_address,
            config_path=str(self.effective_config),
            region="us-east-1",
            resources=self.resources.to_json(),
            environment=self.function_env,
            extra={
                "chat_ws_url": f"ws://{HOST}:{self.http_port}/chat",
                "secrets": self.secrets,
                **self._webhook_secrets(),
            },
        )
        path = write_state(self.options.state_dir, state)
        print(
            f"helpline dev ready: http={http_url} smtp={HOST}:{self.smtp_port} "
            f"chat=ws://{HOST}:{self.http_port}/chat aws={self.aws_endpoint} "
            f"support={self.config.brand.support_address} state={path}",
            flush=True,
        )
        print(
            f"  try: swaks --server {HOST}:{self.smtp_port} --to {self.config.brand.support_address} "
            f"--from you@example.com --header 'Subject: Hello' --body 'My order has not arrived.'\n"
            f"  then open {http_url}/tickets or run `helpline tickets list`\n"
            f"  chat: open {http_url}/ (the demo shop with the widget) and {http_url}/agent",
            file=sys.stderr,
            flush=True,
        )

    async def _shutdown(self) -> None:
        remove_state(self.options.state_dir)
        self._stop.set()
        if self._poller is not None:
            self._poller.stop()
        if self._bridge is not None:
            await self._bridge.close_all()
        if self._smtp is not None:
            self._smtp.stop()
        loop = asyncio.get_running_loop()
        for invoker in self._invokers:
            await loop.run_in_executor(None, invoker.shutdown)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._moto is not None:
            self._moto.stop()


class _StartupError(RuntimeError):
    pass


def _require_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            raise _StartupError(
                f"port {port} on {HOST} is in use; pick another with --aws-port/--http-port/--smtp-port"
            ) from None


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger("helpline.dev")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    for noisy in ("werkzeug", "moto", "botocore", "aiohttp.access", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
