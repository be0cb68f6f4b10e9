"""Model evaluation: the harness with which a bank chooses and certifies the GGUF model it
deploys. Everything runs on this machine; no question, answer or score leaves it.

exams (multiple-choice loaders) → answer (option extraction) → suites (exam, regulation) and
cost (speed and memory) → runner (several models, resumable through store) → report.
"""

from assistant.modeleval.answer import answer_schema, extract_choice
from assistant.modeleval.exams import ExamItem, load_exam
from assistant.modeleval.store import EvalStore, get_run, list_runs

__all__ = [
    "EvalStore",
    "ExamItem",
    "answer_schema",
    "extract_choice",
    "get_run",
    "list_runs",
    "load_exam",
]
