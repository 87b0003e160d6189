"""`helpline dev`: the whole system on a laptop, on 127.0.0.1 only, running what ships.

- an embedded AWS: moto's ThreadedMotoServer, with the shared resources created from
  infra/shared.yaml through its CloudFormation;
- the functions as `helpline package` builds them: each zip unpacked and run in worker
  processes of its own with the handler, environment and role policy its translated
  template gives it (lambdas.py, deployment.py), every AWS call checked against that
  policy;
- their triggers, from the same templates: SES receiving as an SMTP listener (raw mail
  to the bucket, the receipt notification to email_ingest through Lambda-like
  asynchronous invocation with retries and a dead-letter queue), the REST APIs and the
  chat WebSocket API on one HTTP port, the table stream mapping with its filters, and
  the schedules;
- the ticket pages and the small API the CLI uses.
"""

from __future__ import annotations

import asyncio
import json
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
STAGE = "dev"
REGION = "us-east-1"


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
    survey_tick_seconds: float = 15.0  # the due-surveys schedule

    def schedule_seconds(self, spec_name: str, default: float) -> float:
        """Local schedules may run faster than the template's rate (chat and surveys)."""
        return {
            "chat_ws": self.chat_tick_seconds,
            "sla_timer": self.sla_tick_seconds,
            "survey": self.survey_tick_seconds,
        }.get(spec_name, default)


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
        self.internal_port = free_port()  # the Management API, never the public port
        self._bridge: Any = None
        self._pollers: list[Any] = []
        self._timers: list[threading.Thread] = []
        self.secrets: dict[str, str] = {}
        self.lambdas: Any = None
        self.deployments: list[Any] = []
        self._internal_runner: Any = None

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
            survey_links=False,  # the survey function's template gives it its address
        )
        config = load_config(self.effective_config)
        self.config = config
        for port in (self.aws_port, self.http_port, self.smtp_port):
            _require_free(port)

        # 1. the embedded AWS
        from moto.server import ThreadedMotoServer

        from infra.local import account, moto_patches

        moto_patches.install()
        account.install()
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
        session = boto3.session.Session()
        self.session = session
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("moto").setLevel(logging.ERROR)
            self.resources = create_shared_stack(session, stage=STAGE, teams=tuple(config.teams))
        domains = {
            config.brand.message_id_domain,
            *(a.split("@", 1)[1] for a in config.email.addresses),
        }
        for domain in sorted(domains):
            verify_sender_domain(session, domain)
        self.function_env = self.resources.environment(config_path=self.effective_config)
        http = f"http://{HOST}:{self.http_port}"
        from infra.local.resources import create_demo_secrets

        self.secrets = create_demo_secrets(session, config)

        # 2. the functions, as packaged, deployed from their templates
        self._deploy_functions(session, http)
        # what the CLI (and this process's pages) use to reach the chat Management API
        self.function_env["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = self.management_url
        self.function_env["HELPLINE_CHAT_WS_URL"] = f"ws://{HOST}:{self.http_port}/chat"
        os.environ.update(self.function_env)

        # 3. SES receiving, as an SMTP server: it takes what SES takes (40 MB) and leaves
        # `email.max_message_mb` to the function, which quarantines bigger mail as too_large
        from infra.local.smtp import SesLikeHandler, controller

        handler = SesLikeHandler(
            s3_client=session.client("s3"),
            bucket=self.resources.bucket,
            topic_arn=self.resources.inbound_topic_arn,
            domains=domains | {a.split("@", 1)[1] for a in config.email.addresses},
            deliver=self._deliver_mail,
        )
        self._smtp = controller(handler, hostname=HOST, port=self.smtp_port)
        self._smtp.start()

    def _deploy_functions(self, session: Any, http: str) -> None:
        from infra.local import artifacts
        from infra.local.deployment import LocalContext, deploy
        from infra.local.invoker import AsyncInvoker
        from infra.local.lambdas import LambdaService, RuntimeSettings, handler

        state_dir = Path(self.options.state_dir)
        log.info("packaging the functions (cached until their sources change)")
        built = artifacts.build(
            stage=STAGE,
            region=REGION,
            config_path=self.effective_config,
            out_dir=state_dir / "lambda",
            progress=lambda line: log.info("%s", line),
        )
        account = session.client("sts").get_caller_identity()["Account"]
        exports = _exports(session.client("cloudformation"))
        secret_arns = {
            s["Name"]: s["ARN"]
            for s in session.client("secretsmanager").list_secrets().get("SecretList", [])
        }
        self.lambdas = LambdaService(
            RuntimeSettings(
                runtime_site=artifacts.runtime_site(),
                work_dir=state_dir / "lambda",
                account=account,
                region=REGION,
                aws_environment={"AWS_ENDPOINT_URL": self.aws_endpoint},
                faults=list(self.options.faults),
                secret_arns=secret_arns,
                echo=lambda line: print(line, file=sys.stderr, flush=True),
            )
        )
        if self.options.faults:
            log.warning(
                "injecting faults into the functions' AWS calls: %s", ", ".join(self.options.faults)
            )
        self.management_url = f"http://{HOST}:{self.internal_port}"
        for artifact in built:
            context = LocalContext(
                stack_name=artifact.spec.stack_name(STAGE),
                region=REGION,
                account=account,
                parameters={
                    "Stage": STAGE,
                    "LogLevel": "INFO" if self.options.verbose else "WARNING",
                    "RoutingQueueUrls": json.dumps(self.resources.queue_urls, sort_keys=True),
                },
                exports=exports,
                rest_url=http,
                websocket_url=f"ws://{HOST}:{self.http_port}/chat",
                management_url=self.management_url,
            )
            deployment = deploy(
                artifact.template,
                context,
                spec_name=artifact.spec.name,
                task_root=artifact.task_root,
            )
            self.deployments.append(deployment)
            for function in deployment.functions:
                self.lambdas.add(function)
            for name, value in deployment.ssm_parameters.items():
                session.client("ssm").put_parameter(
                    Name=name, Value=value, Type="String", Overwrite=True
                )

        sqs = session.client("sqs")
        queue_urls = _queue_urls(sqs)
        self._invokers = []
        self.email_invoker: Any = None
        for deployment in self.deployments:
            for topic, function in deployment.subscriptions:
                spec = self.lambdas.function(function)
                invoker = AsyncInvoker(
                    function,
                    handler(self.lambdas, function),
                    dlq_url=queue_urls.get(spec.dead_letter_arn or ""),
                    sqs_client=sqs,
                    max_attempts=1 + max(0, spec.async_retries),
                    retry_delays=self.options.retry_delays,
                )
                self._invokers.append(invoker)
                if topic == self.resources.inbound_topic_arn:
                    self.email_invoker = invoker
            for schedule in deployment.schedules:
                seconds = self.options.schedule_seconds(deployment.spec_name, schedule.seconds)
                self._every(seconds, schedule.function, self._scheduled(schedule, account))
            for mapping in deployment.streams:
                self._pollers.append(self._stream(session, mapping, queue_urls))
        for poller in self._pollers:
            poller.start()

    def _scheduled(self, schedule: Any, account: str) -> Any:
        """What EventBridge hands the function on each tick of its rule."""
        import uuid
        from datetime import UTC, datetime

        def fire() -> None:
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": account,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [schedule.rule],
                "detail": {},
            }
            invocation = self.lambdas.invoke(schedule.function, event)
            if not invocation.ok:
                log.error("%s failed: %s", schedule.function, invocation.error_text())

        return fire

    def _stream(self, session: Any, mapping: Any, queue_urls: dict[str, str]) -> Any:
        from infra.local.lambdas import handler
        from infra.local.streams import StreamPoller

        function = self.lambdas.function(mapping.function)
        return StreamPoller(
            streams_client=session.client("dynamodbstreams"),
            stream_arn=mapping.stream_arn,
            handler=handler(self.lambdas, mapping.function),
            sqs_client=session.client("sqs"),
            dlq_url=queue_urls.get(mapping.on_failure_arn or ""),
            filters=mapping.filters,
            batch_size=mapping.batch_size,
            bisect=mapping.bisect_on_error,
            # -1 is "until the record expires"; locally a few tries show the same thing
            max_attempts=mapping.max_retries + 1 if mapping.max_retries >= 0 else 10,
            function_arn=f"arn:aws:lambda:{REGION}:{self.lambdas.settings.account}:function:{function.name}",
            start_at="LATEST",
        )

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
        if self.email_invoker is None:
            raise RuntimeError("no function subscribes to the inbound mail topic")
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
        from infra.admin import Admin
        from infra.local.chat_bridge import ChatBridge
        from infra.local.fake_platforms import FakePlatforms
        from infra.local.gateway import RestGateway
        from infra.local.outbox import Outbox
        from infra.local.web import PublicAddress, WebApp

        components = wiring.build(wiring.Settings.from_env(), config=self.config)
        tickets = TicketService(
            config=components.config,
            store=components.store,
            senders=components.senders,
            renderer=components.renderer,
        )
        # the quarantine page lists what is kept; replaying is the CLI's
        admin = Admin(
            store=components.store,
            email=None,
            sqs_client=self.session.client("sqs"),
            mail_dlq_url=self.resources.mail_dlq_url,
            stream_dlq_url=self.resources.stream_dlq_url or None,
            blobs=components.blobs,
        )
        self.outbox = Outbox()
        instagram_tokens = {
            self.secrets[str(ref)]: "instagram"
            for ref in self.config.social.accounts(Channel.INSTAGRAM).values()
            if str(ref) in self.secrets
        }
        self.fake_platforms = FakePlatforms(instagram_tokens)
        self.outbox.extra_sources.append(self.fake_platforms)
        gateway = RestGateway(
            [api for d in self.deployments for api in d.rest_apis],
            self.lambdas.invoke,
            account=self.lambdas.settings.account,
        )
        websocket_apis = [api for d in self.deployments for api in d.websocket_apis]
        extra_routes = [*gateway.routes(), *self.fake_platforms.routes()]
        internal_routes: list[Any] = []
        if websocket_apis:
            self._bridge = ChatBridge(
                api=websocket_apis[0],
                invoke=self.lambdas.invoke,
                host=f"{HOST}:{self.http_port}",
                # the stack's own pages and the sites that embed the widget
                allowed_origins=PublicAddress(self.http_port).origins
                | set(self.config.chat.allowed_origins),
            )
            extra_routes += self._bridge.routes()
            internal_routes += self._bridge.management_routes()
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
            extra_routes=extra_routes,
            agents=self._agent_tokens,
            port=self.http_port,
        )
        self._runner = web.AppRunner(webapp.application(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, self.http_port).start()
        internal = web.Application(client_max_size=256 * 1024)
        internal.add_routes(internal_routes)
        self._internal_runner = web.AppRunner(internal, access_log=None)
        await self._internal_runner.setup()
        await web.TCPSite(self._internal_runner, HOST, self.internal_port).start()

    def _agent_tokens(self, email: str | None) -> Any:
        """The agent console's sign-in on the local stack: the config's agents, and a
        token for one of them (what `helpline agents token EMAIL` prints)."""
        from datetime import timedelta

        from functions.chat_ws.service import AGENT_PURPOSE
        from functions.core.errors import NotFoundError
        from functions.core.timeutil import utcnow
        from functions.core.tokens import sign

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
        agent = self.config.agent(email)
        if agent is None or self.config.chat.agent_secret is None:
            raise NotFoundError(f"{email} is not an agent in the config")
        secret = self.secrets[str(self.config.chat.agent_secret)].encode("utf-8")
        token = sign(
            AGENT_PURPOSE,
            {"agent": agent.email},
            secret=secret,
            now=utcnow(),
            ttl=timedelta(hours=12),
        )
        return {"token": token, "ws_url": f"ws://{HOST}:{self.http_port}/chat"}

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
                "management_url": self.management_url,
                "functions": sorted(self.lambdas.functions),
                "lambda_dir": str(Path(self.options.state_dir) / "lambda"),
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
        for poller in self._pollers:
            poller.stop()
        if self._bridge is not None:
            await self._bridge.close_all()
        if self._smtp is not None:
            self._smtp.stop()
        loop = asyncio.get_running_loop()
        for invoker in self._invokers:
            await loop.run_in_executor(None, invoker.shutdown)
        if self.lambdas is not None:
            await loop.run_in_executor(None, self.lambdas.stop)
        for runner in (self._runner, self._internal_runner):
            if runner is not None:
                await runner.cleanup()
        if self._moto is not None:
            self._moto.stop()


class _StartupError(RuntimeError):
    pass


def _exports(cloudformation: Any) -> dict[str, str]:
    exports: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_exports").paginate():
        exports.update({e["Name"]: e["Value"] for e in page.get("Exports", [])})
    return exports


def _queue_urls(sqs: Any) -> dict[str, str]:
    """Queue ARN -> URL, for dead-letter and on-failure destinations named by ARN."""
    found = {}
    for url in sqs.list_queues(MaxResults=1000).get("QueueUrls", []):
        account, name = url.rstrip("/").split("/")[-2:]
        found[f"arn:aws:sqs:{REGION}:{account}:{name}"] = url
    return found


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
