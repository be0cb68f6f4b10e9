"""The chat UI: a thin Gradio shell over `AssistantService`.

No business logic lives here: guard, routing, retrieval, permissions and the audit trail are
the service's and the desks'. The UI resolves who is asking from Gradio's login
(``request.username``, never a name the browser sends), hands that user to the service or to a
desk with every call, streams the service's events into the page and renders what comes back.
It checks no role: a desk refuses, records the refusal, and the page shows the desk's words.

Named API endpoints (``/ask``, ``/ask_with_file``, ``/review``, ``/feedback``,
``/conversations``, ``/messages``; with the fraud desk ``/fraud_actions`` and ``/fraud_decide``;
with the monitor desk ``/fraud_alerts``, ``/fraud_alert_decide``, ``/fraud_alert_trace``,
``/fraud_monitor_score``, ``/fraud_monitor_batch`` and ``/fraud_monitor_warm``; with the admin
desk ``/eval_runs`` and ``/eval_run``) let scripts and tests use
``gradio_client`` with the same login; the page's own handlers are private. Every route is
listed, with what guards it, in tests/test_channels.py: a new one fails that test until it is.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from gradio.utils import get_upload_folder, is_in_or_equal

from assistant.errors import AssistantError
from assistant.llm.base import LLMError
from assistant.permissions import UserContext
from assistant.pii.logs import install_log_masking
from assistant.service import AssistantService
from assistant.users import UserStore
from knowledge.errors import KnowledgeError
from ui import admin_panel, alerts_panel, fraud_panel, fx_panel, ledger_upload, render
from ui.flow import flow_figure
from ui.i18n import LANG_CHOICES, both, normalise, t
from ui.sessions import ExpiringTokens

if TYPE_CHECKING:
    from assistant.desks.admin import AdminDesk
    from assistant.desks.fraud import FraudDesk
    from assistant.desks.fx import FxDesk
    from assistant.desks.monitor import FraudMonitorDesk

log = logging.getLogger(__name__)

# Errors whose message is meant for the person asking (bilingual, Chinese first): shown as they
# are. Anything else is logged here and shown as a generic line, never as a stack trace.
USER_ERRORS: tuple[type[Exception], ...] = (AssistantError, KnowledgeError, LLMError)

# Every call that runs the graph shares one concurrency group, so the page and API clients
# together never run more questions at once than the machine was sized for.
CONCURRENCY_ID = "assistant"


def _user(users: UserStore, request: gr.Request | None) -> UserContext:
    """The logged-in user, from the session Gradio's login established."""
    name = getattr(request, "username", None) if request is not None else None
    if not name:
        raise AssistantError("請先登入 / please log in first")
    return users.get(name)


def _api_error(exc: Exception) -> gr.Error:
    """A user error as the API reports it: the message, without a server-side traceback."""
    return gr.Error(str(exc), print_exception=False)


def banner_text(service: AssistantService, lang: str) -> str:
    if service.model_switched_off:
        return f"⚠️ {t('model_switched_off', lang)}"
    if service.model_loaded:
        return f"ℹ️ {t('model_loaded', lang, model=service.model_name)}"
    return f"ℹ️ {t('no_model', lang)}"


def build_app(
    service: AssistantService,
    users: UserStore,
    *,
    language: str = "zh-TW",
    concurrency: int = 4,
    fx: FxDesk | None = None,
    fraud: FraudDesk | None = None,
    monitor: FraudMonitorDesk | None = None,
    admin: AdminDesk | None = None,
) -> gr.Blocks:
    """The page and the API, over one service and the desks. Launch it with ``auth=`` (see
    `serve_ui`): every handler refuses to run without a logged-in user.

    ``fx`` (an `FxDesk`) fills the 外匯 tab; ``fraud`` (a `FraudDesk`) adds the 防詐 tab and
    the ``/fraud_actions`` and ``/fraud_decide`` endpoints; ``monitor`` (a `FraudMonitorDesk`)
    adds the 警示 tab (its ring button through ``fraud``, when given) and the monitor's
    endpoints (``alerts_panel.register_api``); ``admin`` (an
    `AdminDesk`) adds the 管理 tab and ``/eval_runs`` and ``/eval_run``. The 防詐, 警示 and 管理
    tabs start hidden and are shown, on the page's load, to the roles the permission table lets
    read them."""
    lang0 = normalise(language)

    with gr.Blocks(title=t("title", lang0), analytics_enabled=False) as demo:
        # Per-session state. The history is kept here rather than read back from the Chatbot:
        # it is the plain messages list, whatever shape the Chatbot hands its value back in.
        history_state = gr.State([])
        conv_state = gr.State(None)  # current conversation id, None for a new one
        audit_state = gr.State(None)  # the last answer's audit id, for feedback
        answer_state = gr.State(None)  # what the sources/trace panels show, to re-render them

        with gr.Row(equal_height=False):
            title = gr.Markdown(f"## {t('title', lang0)}", elem_id="twfin-title")
            lang = gr.Radio(
                LANG_CHOICES,
                value=lang0,
                label=t("language", lang0),
                elem_id="twfin-language",
                scale=0,
                min_width=240,
            )
        banner = gr.Markdown(banner_text(service, lang0), elem_id="twfin-banner")

        with gr.Tabs():
            with (
                gr.Tab(t("tab_chat", lang0), elem_id="twfin-tab-chat") as chat_tab,
                gr.Row(equal_height=False),
            ):
                with gr.Column(scale=1, min_width=220):
                    user_line = gr.Markdown("", elem_id="twfin-user")
                    new_btn = gr.Button(
                        t("new_conversation", lang0), variant="secondary", elem_id="twfin-new"
                    )
                    conv_list = gr.Radio(
                        [],
                        value=None,
                        label=t("conversations", lang0),
                        elem_id="twfin-conversations",
                    )
                    logout = gr.Button(t("logout", lang0), link="/logout", size="sm")

                with gr.Column(scale=3, min_width=360):
                    chatbot = gr.Chatbot(
                        [],
                        label=t("chatbot", lang0),
                        placeholder=t("chat_placeholder", lang0),
                        height=520,
                        feedback_options=None,  # feedback goes through the buttons below, audited
                        buttons=["copy", "copy_all"],  # no "share": nothing leaves the bank
                        elem_id="twfin-chatbot",
                    )
                    with gr.Row(equal_height=True):
                        question = gr.Textbox(
                            label=t("question", lang0),
                            placeholder=t("question_placeholder", lang0),
                            lines=1,  # Enter sends; a one-line box still grows for longer text
                            max_lines=8,
                            scale=5,
                            elem_id="twfin-question",
                        )
                        send = gr.Button(
                            t("send", lang0), variant="primary", scale=1, elem_id="twfin-send"
                        )
                    # A report for the credit agent: stored by the service with the next question.
                    upload = gr.File(
                        label=t("upload", lang0),
                        file_types=[".pdf"],
                        type="filepath",
                        elem_id="twfin-upload",
                    )
                    status = gr.Markdown("", elem_id="twfin-status")
                    # The maker-checker sign-off of a credit memo draft: shown while the
                    # conversation's run is paused for it, and resumes the run.
                    with gr.Group(visible=False, elem_id="twfin-review") as review_box:
                        review_title = gr.Markdown("", elem_id="twfin-review-title")
                        review_md = gr.Textbox(
                            label=t("review_markdown", lang0),
                            lines=10,
                            max_lines=30,
                            elem_id="twfin-review-markdown",
                        )
                        review_note = gr.Textbox(
                            label=t("review_note", lang0), lines=1, elem_id="twfin-review-note"
                        )
                        with gr.Row():
                            approve_btn = gr.Button(
                                t("approve", lang0), variant="primary", elem_id="twfin-approve"
                            )
                            edit_btn = gr.Button(t("approve_edited", lang0), elem_id="twfin-edit")
                            reject_btn = gr.Button(
                                t("reject", lang0), variant="stop", elem_id="twfin-reject"
                            )
                    with gr.Accordion(
                        t("trace", lang0), open=False, elem_id="twfin-trace"
                    ) as trace_box:
                        trace = gr.HTML(render.trace_html([], [], lang0), js_on_load=None)
                    with gr.Group():
                        fb_title = gr.Markdown(f"**{t('feedback', lang0)}**")
                        comment = gr.Textbox(
                            label=t("comment", lang0),
                            placeholder=t("comment_placeholder", lang0),
                            lines=1,
                            elem_id="twfin-comment",
                        )
                        with gr.Row():
                            up = gr.Button(t("thumbs_up", lang0), size="sm", elem_id="twfin-up")
                            down = gr.Button(
                                t("thumbs_down", lang0), size="sm", elem_id="twfin-down"
                            )
                    fb_status = gr.Markdown("", elem_id="twfin-feedback-status")

                with gr.Column(scale=2, min_width=300):
                    sources_title = gr.Markdown(f"### {t('sources', lang0)}")
                    sources = gr.HTML(
                        render.sources_html([], lang0), js_on_load=None, elem_id="twfin-sources"
                    )
                    # A fraud trace's money flow, drawn beside the answer when there is one.
                    flow = gr.Plot(visible=False, show_label=False, elem_id="twfin-flow")

            with gr.Tab(fx_panel.tab_label(lang0), elem_id="twfin-tab-fx") as fx_tab:
                fx_relabel, fx_outputs = fx_panel.build(fx, lambda r: _user(users, r), lang0)

            # Each further tab: (tab, its label for a language, its relabel, its components).
            panels: list[tuple[gr.Tab, Callable[[str], str], Callable[..., Any], list[Any]]] = []
            if fraud is not None:
                with gr.Tab(
                    fraud_panel.tab_label(lang0), elem_id="twfin-tab-fraud", visible=False
                ) as tab:
                    queue_relabel, queue_outputs = fraud_panel.build(
                        fraud,
                        lambda r: _user(users, r),
                        lang0,
                        lang=lang,
                        demo=demo,
                        tab=tab,
                    )
                    # Files from other banks imported where the investigator works the queue.
                    import_relabel, import_outputs = ledger_upload.build(
                        fraud, lambda r: _user(users, r), _uploaded, lang0, lang=lang
                    )
                panels.append(
                    (
                        tab,
                        fraud_panel.tab_label,
                        lambda lg, a=queue_relabel, b=import_relabel: {**a(lg), **b(lg)},
                        [*queue_outputs, *import_outputs],
                    )
                )
            if monitor is not None:
                with gr.Tab(
                    alerts_panel.tab_label(lang0), elem_id="twfin-tab-alerts", visible=False
                ) as tab:
                    relabel_fn, outputs = alerts_panel.build(
                        monitor,
                        fraud,
                        lambda r: _user(users, r),
                        lang0,
                        lang=lang,
                        demo=demo,
                        tab=tab,
                    )
                panels.append((tab, alerts_panel.tab_label, relabel_fn, outputs))
            if admin is not None:
                with gr.Tab(
                    admin_panel.tab_label(lang0), elem_id="twfin-tab-admin", visible=False
                ) as tab:
                    relabel_fn, outputs = admin_panel.build(
                        admin,
                        lambda r: _user(users, r),
                        lang0,
                        lang=lang,
                        demo=demo,
                        tab=tab,
                    )
                panels.append((tab, admin_panel.tab_label, relabel_fn, outputs))

        # ---- page handlers -------------------------------------------------------------

        def on_load(lang_value: str, request: gr.Request) -> dict[Any, Any]:
            lg = normalise(lang_value)
            try:
                user = _user(users, request)
            except USER_ERRORS as exc:
                return {user_line: render.error_line(str(exc), lg)}
            return {
                user_line: t("signed_in", lg, name=user.name, role=user.role),
                conv_list: gr.update(
                    choices=render.conversation_choices(service.conversations(user)), value=None
                ),
                banner: banner_text(service, lg),  # an administrator may have switched the model
            }

        def review_update(pending: dict[str, Any] | None, lg: str) -> dict[Any, Any]:
            if not pending:
                return {review_box: gr.update(visible=False)}
            return {
                review_box: gr.update(visible=True),
                review_title: f"**⏳ {t('review_title', lg, id=pending['draft_id'])}**",
                review_md: pending.get("markdown") or "",
                review_note: "",
            }

        def chat(
            text: str,
            history: list[dict[str, str]],
            conversation_id: str | None,
            file: str | None,
            lang_value: str,
            request: gr.Request,
        ) -> Iterator[dict[Any, Any]]:
            lg = normalise(lang_value)
            before = list(history or [])
            pending = [
                *before,
                {"role": "user", "content": text},
                {"role": "assistant", "content": "…"},
            ]
            yield {chatbot: pending, question: "", status: f"⏳ {t('working', lg)}"}
            steps: list[dict[str, Any]] = []
            streamed = ""
            answer: dict[str, Any] | None = None
            try:
                user = _user(users, request)
                attachments = [Path(file)] if file else None
                for event in service.stream(user, text, conversation_id or None, attachments):
                    if event.kind == "token":
                        streamed += event.text
                        pending[-1] = {"role": "assistant", "content": streamed}
                        yield {chatbot: pending}
                    elif event.kind == "step" and event.step is not None:
                        s = event.step
                        steps.append({"node": s.node, "detail": s.detail, "seconds": s.seconds})
                        yield {
                            status: render.step_line(s.node, s.detail, lg),
                            trace: render.trace_html(steps, [], lg),
                        }
                    elif event.kind == "answer" and event.answer is not None:
                        answer = event.answer.to_dict()
                if answer is None:  # the service always ends with one; guard the page anyway
                    raise AssistantError("沒有收到回答 / no answer came back")
                conversations = service.conversations(user)
            except USER_ERRORS as exc:
                # Back to the conversation as it was, the question still in the box to edit.
                gr.Warning(str(exc))
                yield _restore(before, text, render.error_line(str(exc), lg))
                return
            except Exception:
                log.exception("chat turn failed")
                gr.Warning(t("unexpected", lg))
                yield _restore(before, text, render.error_line(t("unexpected", lg), lg))
                return
            done = [*before, {"role": "user", "content": text}]
            done.append({"role": "assistant", "content": answer["answer"]})
            shown = _panel(answer, steps_stored=True)
            figure = flow_figure((answer.get("data") or {}).get("traces") or [])
            yield {
                flow: gr.update(value=figure, visible=figure is not None),
                chatbot: done,
                history_state: done,
                status: render.answer_meta(answer, lg),
                sources: render.sources_html(shown["citations"], lg),
                trace: _trace(shown, lg),
                conv_state: answer["conversation_id"],
                audit_state: answer["audit_id"],
                answer_state: shown,
                conv_list: gr.update(
                    choices=render.conversation_choices(conversations),
                    value=answer["conversation_id"],
                ),
                fb_status: "",
                upload: None,  # the report went with this question
                **review_update(answer.get("pending"), lg),
            }

        def decide(action: str) -> Callable[..., dict[Any, Any]]:
            def handler(
                history: list[dict[str, str]],
                conversation_id: str | None,
                markdown: str,
                note: str,
                lang_value: str,
                request: gr.Request,
            ) -> dict[Any, Any]:
                lg = normalise(lang_value)
                decision = {"action": action, "markdown": markdown, "note": note or ""}
                try:
                    user = _user(users, request)
                    if not conversation_id:
                        raise AssistantError("沒有進行中的對話 / no conversation is open")
                    answer = service.resume(user, conversation_id, decision).to_dict()
                except USER_ERRORS as exc:
                    gr.Warning(str(exc))
                    return {status: render.error_line(str(exc), lg)}
                label = {"approve": "approve", "edit": "approve_edited", "reject": "reject"}
                done = [
                    *(history or []),
                    {
                        "role": "user",
                        "content": f"{t(label[action], lg)}：{note or ''}".rstrip("："),
                    },
                    {"role": "assistant", "content": answer["answer"]},
                ]
                shown = _panel(answer, steps_stored=True)
                return {
                    chatbot: done,
                    history_state: done,
                    status: render.answer_meta(answer, lg),
                    sources: render.sources_html(shown["citations"], lg),
                    trace: _trace(shown, lg),
                    audit_state: answer["audit_id"],
                    answer_state: shown,
                    **review_update(answer.get("pending"), lg),
                }

            return handler

        def _restore(before: list[dict[str, str]], text: str, line: str) -> dict[Any, Any]:
            return {chatbot: before, history_state: before, question: text, status: line}

        def open_conversation(
            conversation_id: str | None, lang_value: str, request: gr.Request
        ) -> dict[Any, Any]:
            lg = normalise(lang_value)
            if not conversation_id:
                return {}
            try:
                messages = service.messages(_user(users, request), conversation_id)
            except USER_ERRORS as exc:
                gr.Warning(str(exc))
                return {status: render.error_line(str(exc), lg)}
            try:
                pending = service.pending(_user(users, request), conversation_id)
            except USER_ERRORS:
                pending = None
            shown_history = render.history(messages)
            last = render.last_answer(messages)
            extra = last.extra if last is not None else {}
            shown = _panel(
                {
                    "citations": extra.get("citations") or [],
                    "tool_calls": extra.get("tool_calls") or [],
                },
                steps_stored=False,
            )
            return {
                chatbot: shown_history,
                history_state: shown_history,
                conv_state: conversation_id,
                audit_state: last.audit_id if last is not None else None,
                answer_state: shown,
                sources: render.sources_html(shown["citations"], lg),
                trace: _trace(shown, lg),
                status: "",
                fb_status: "",
                **review_update(pending, lg),
            }

        def new_conversation(lang_value: str) -> dict[Any, Any]:
            lg = normalise(lang_value)
            return {
                chatbot: [],
                history_state: [],
                conv_state: None,
                audit_state: None,
                answer_state: None,
                conv_list: gr.update(value=None),
                sources: render.sources_html([], lg),
                trace: render.trace_html([], [], lg),
                status: "",
                fb_status: "",
                question: "",
                upload: None,
                review_box: gr.update(visible=False),
            }

        def give_feedback(rating: int) -> Callable[..., dict[Any, Any]]:
            def handler(
                audit_id: int | None, text: str, lang_value: str, request: gr.Request
            ) -> dict[Any, Any]:
                lg = normalise(lang_value)
                if audit_id is None:
                    gr.Warning(t("no_answer_yet", lg))
                    return {fb_status: render.error_line(t("no_answer_yet", lg), lg)}
                try:
                    service.feedback(_user(users, request), int(audit_id), rating, text or "")
                except USER_ERRORS as exc:
                    gr.Warning(str(exc))
                    return {fb_status: render.error_line(str(exc), lg)}
                gr.Info(t("feedback_saved", lg))
                return {fb_status: f"✅ {t('feedback_saved', lg)}", comment: ""}

            return handler

        def relabel(
            lang_value: str, shown: dict[str, Any] | None, request: gr.Request
        ) -> dict[Any, Any]:
            lg = normalise(lang_value)
            out: dict[Any, Any] = {
                title: f"## {t('title', lg)}",
                lang: gr.update(label=t("language", lg)),
                banner: banner_text(service, lg),
                new_btn: gr.update(value=t("new_conversation", lg)),
                conv_list: gr.update(label=t("conversations", lg)),
                logout: gr.update(value=t("logout", lg)),
                chatbot: gr.update(label=t("chatbot", lg), placeholder=t("chat_placeholder", lg)),
                question: gr.update(
                    label=t("question", lg), placeholder=t("question_placeholder", lg)
                ),
                send: gr.update(value=t("send", lg)),
                upload: gr.update(label=t("upload", lg)),
                review_md: gr.update(label=t("review_markdown", lg)),
                review_note: gr.update(label=t("review_note", lg)),
                approve_btn: gr.update(value=t("approve", lg)),
                edit_btn: gr.update(value=t("approve_edited", lg)),
                reject_btn: gr.update(value=t("reject", lg)),
                trace_box: gr.update(label=t("trace", lg)),
                fb_title: f"**{t('feedback', lg)}**",
                comment: gr.update(
                    label=t("comment", lg), placeholder=t("comment_placeholder", lg)
                ),
                up: gr.update(value=t("thumbs_up", lg)),
                down: gr.update(value=t("thumbs_down", lg)),
                sources_title: f"### {t('sources', lg)}",
                sources: render.sources_html((shown or {}).get("citations") or [], lg),
                trace: _trace(shown or _panel({}, steps_stored=True), lg),
            }
            if shown and shown.get("meta"):
                out[status] = render.answer_meta(shown["meta"], lg)
            try:
                user = _user(users, request)
                out[user_line] = t("signed_in", lg, name=user.name, role=user.role)
            except USER_ERRORS:
                pass
            return out

        # ---- wiring --------------------------------------------------------------------

        demo.load(
            on_load, inputs=[lang], outputs=[user_line, conv_list, banner], api_visibility="private"
        )
        chat_outputs = [
            flow,
            chatbot,
            history_state,
            question,
            status,
            sources,
            trace,
            conv_state,
            audit_state,
            answer_state,
            conv_list,
            fb_status,
            upload,
            review_box,
            review_title,
            review_md,
            review_note,
        ]
        for trigger in (question.submit, send.click):
            trigger(
                chat,
                inputs=[question, history_state, conv_state, upload, lang],
                outputs=chat_outputs,
                api_visibility="private",
                concurrency_id=CONCURRENCY_ID,
                concurrency_limit=concurrency,
                show_progress="hidden",  # the streamed text and the status line show progress
            )
        conv_list.input(
            open_conversation,
            inputs=[conv_list, lang],
            outputs=[
                chatbot,
                history_state,
                conv_state,
                audit_state,
                answer_state,
                sources,
                trace,
                status,
                fb_status,
                review_box,
                review_title,
                review_md,
                review_note,
            ],
            api_visibility="private",
        )
        for button, action in (
            (approve_btn, "approve"),
            (edit_btn, "edit"),
            (reject_btn, "reject"),
        ):
            button.click(
                decide(action),
                inputs=[history_state, conv_state, review_md, review_note, lang],
                outputs=[
                    chatbot,
                    history_state,
                    status,
                    sources,
                    trace,
                    audit_state,
                    answer_state,
                    review_box,
                    review_title,
                    review_md,
                    review_note,
                ],
                api_visibility="private",
                concurrency_id=CONCURRENCY_ID,
                concurrency_limit=concurrency,
            )
        # The Chatbot's own clear (trash) button starts over too; stored conversations stay.
        for trigger in (new_btn.click, chatbot.clear):
            trigger(
                new_conversation,
                inputs=[lang],
                outputs=[
                    chatbot,
                    history_state,
                    conv_state,
                    audit_state,
                    answer_state,
                    conv_list,
                    sources,
                    trace,
                    status,
                    fb_status,
                    question,
                    upload,
                    review_box,
                ],
                api_visibility="private",
            )
        for button, rating in ((up, 1), (down, -1)):
            button.click(
                give_feedback(rating),
                inputs=[audit_state, comment, lang],
                outputs=[fb_status, comment],
                api_visibility="private",
            )
        lang.change(
            relabel,
            inputs=[lang, answer_state],
            outputs=[
                title,
                lang,
                banner,
                new_btn,
                conv_list,
                logout,
                chatbot,
                question,
                send,
                upload,
                review_md,
                review_note,
                approve_btn,
                edit_btn,
                reject_btn,
                trace_box,
                fb_title,
                comment,
                up,
                down,
                sources_title,
                sources,
                trace,
                status,
                user_line,
            ],
            api_visibility="private",
        )
        lang.change(
            lambda lg: {
                **fx_relabel(normalise(lg)),
                chat_tab: gr.update(label=t("tab_chat", normalise(lg))),
                fx_tab: gr.update(label=fx_panel.tab_label(normalise(lg))),
            },
            inputs=[lang],
            outputs=[*fx_outputs, chat_tab, fx_tab],
            api_visibility="private",
        )
        for tab, tab_label, relabel_fn, outputs in panels:
            lang.change(
                functools.partial(_relabel_panel, tab, tab_label, relabel_fn),
                inputs=[lang],
                outputs=[*outputs, tab],
                api_visibility="private",
            )

        # ---- API for scripts: the same service, the same login --------------------------

        def ask(
            question: str, conversation_id: str | None = None, request: gr.Request | None = None
        ) -> dict[str, Any]:
            """Ask a question (optionally continuing a conversation); returns the whole
            answer: text, agent, citations, tool calls, steps, audit id, conversation id."""
            try:
                user = _user(users, request)
                return service.ask(user, question, conversation_id or None).to_dict()
            except USER_ERRORS as exc:
                raise _api_error(exc) from exc

        def ask_with_file(
            question: str,
            file: dict[str, Any] | str | None = None,
            conversation_id: str | None = None,
            request: gr.Request | None = None,
        ) -> dict[str, Any]:
            """Ask with a report (PDF, sent with gradio_client's ``handle_file``); a credit memo
            draft comes back with ``pending`` set until it is reviewed (``/review``)."""
            try:
                user = _user(users, request)
                attachments = [_uploaded(file)] if file else None
                return service.ask(user, question, conversation_id or None, attachments).to_dict()
            except USER_ERRORS as exc:
                raise _api_error(exc) from exc

        def review(
            conversation_id: str,
            action: str,
            markdown: str | None = None,
            note: str = "",
            request: gr.Request | None = None,
        ) -> dict[str, Any]:
            """Decide on the credit memo draft a conversation waits on: action approve, edit
            (with the edited Markdown) or reject (with a note); returns the final answer."""
            try:
                user = _user(users, request)
                decision = {"action": action, "markdown": markdown, "note": note or ""}
                return service.resume(user, conversation_id, decision).to_dict()
            except USER_ERRORS as exc:
                raise _api_error(exc) from exc

        def feedback(
            audit_id: int, rating: int, comment: str = "", request: gr.Request | None = None
        ) -> dict[str, Any]:
            """Rate an answer given to you: rating +1 or -1, with an optional comment."""
            try:
                user = _user(users, request)
                feedback_id = service.feedback(user, int(audit_id), int(rating), comment or "")
            except (*USER_ERRORS, ValueError) as exc:
                raise _api_error(exc) from exc
            return {"feedback_id": feedback_id, "audit_id": int(audit_id), "rating": int(rating)}

        def conversations(request: gr.Request | None = None) -> list[dict[str, Any]]:
            """Your conversations, most recent first."""
            try:
                rows = service.conversations(_user(users, request))
            except USER_ERRORS as exc:
                raise _api_error(exc) from exc
            return [
                {"id": c.id, "title": c.title, "updated_at": c.updated_at.isoformat()} for c in rows
            ]

        def messages(
            conversation_id: str, request: gr.Request | None = None
        ) -> list[dict[str, Any]]:
            """One of your conversations' messages; an assistant message's extra holds its
            citations and tool calls."""
            try:
                rows = service.messages(_user(users, request), conversation_id)
            except USER_ERRORS as exc:
                raise _api_error(exc) from exc
            return [
                {
                    "role": m.role,
                    "content": m.content,
                    "audit_id": m.audit_id,
                    "extra": m.extra,
                    "created_at": m.created_at.isoformat(),
                }
                for m in rows
            ]

        gr.api(ask, api_name="ask", concurrency_id=CONCURRENCY_ID, concurrency_limit=concurrency)
        gr.api(
            ask_with_file,
            api_name="ask_with_file",
            concurrency_id=CONCURRENCY_ID,
            concurrency_limit=concurrency,
        )
        gr.api(review, api_name="review", concurrency_id=CONCURRENCY_ID)
        gr.api(feedback, api_name="feedback")
        gr.api(conversations, api_name="conversations")
        gr.api(messages, api_name="messages")
        if fraud is not None:
            fraud_panel.register_api(fraud, lambda r: _user(users, r))
        if monitor is not None:
            alerts_panel.register_api(monitor, lambda r: _user(users, r))
        if admin is not None:
            admin_panel.register_api(admin, lambda r: _user(users, r))

    return demo


def _uploaded(file: dict[str, Any] | str) -> Path:
    """The server-side path of a file a client uploaded. Only Gradio's upload folder is
    accepted: a path the client names elsewhere on the server is refused, not read."""
    path = Path(file["path"] if isinstance(file, dict) else file).resolve()
    if not is_in_or_equal(path, get_upload_folder()):
        raise AssistantError("請以上傳方式提供檔案 / send the file as an upload")
    return path


def _relabel_panel(
    tab: gr.Tab, tab_label: Callable[[str], str], relabel: Callable[[str], Any], lang_value: str
) -> dict[Any, Any]:
    lg = normalise(lang_value)
    return {**relabel(lg), tab: gr.update(label=tab_label(lg))}


# What the status line under an answer is rendered from (see render.answer_meta).
_META = ("refused", "model", "generated", "agent", "latency_ms", "citations", "no_basis")


def _panel(answer: dict[str, Any], *, steps_stored: bool) -> dict[str, Any]:
    """What the sources and trace panels show, kept in the session to re-render on a language
    switch; ``meta`` (agent, model, latency) only for an answer given in this session."""
    return {
        "citations": answer.get("citations") or [],
        "tool_calls": answer.get("tool_calls") or [],
        "steps": answer.get("steps") or [],
        "thinking": answer.get("thinking") or "",
        "steps_stored": steps_stored,
        "meta": {k: answer.get(k) for k in _META} if "agent" in answer else None,
    }


def _trace(shown: dict[str, Any], lang: str) -> str:
    return render.trace_html(
        shown["steps"],
        shown["tool_calls"],
        lang,
        thinking=shown["thinking"],
        steps_stored=shown["steps_stored"],
    )


def serve_ui(container: Any, host: str, port: int, **launch_kwargs: Any) -> gr.Blocks:
    """Build the app over the container's service and serve it behind Gradio's login.

    Blocks until the server stops unless ``prevent_thread_lock=True`` is passed; returns the
    launched Blocks (``.close()`` stops it). The container stays open: its owner closes it.
    """
    users: UserStore = container.users
    demo = build_app(
        container.service,
        users,
        language=container.settings.language,
        fx=container.fx_desk,
        fraud=container.fraud_desk,
        monitor=container.fraud_monitor_desk,
        admin=container.admin_desk,
    )
    kwargs: dict[str, Any] = {
        "server_name": host,
        "server_port": port,
        "auth": lambda name, password: users.authenticate(name, password) is not None,
        "auth_message": both("auth_message"),
        "show_error": False,  # unexpected errors stay in the server log, not in the page
        # No "settings" link: its language menu would let Gradio's own strings switch to
        # Simplified Chinese; the page has its own language choice.
        "footer_links": ["api"],
    }
    kwargs.update(launch_kwargs)
    block = not kwargs.pop("prevent_thread_lock", False)
    demo.launch(prevent_thread_lock=True, **kwargs)
    # Logins end: after ui.session_hours, or ui.idle_minutes without a request (Gradio's own
    # token table never forgets one). Replaced before the first login can arrive.
    ui = container.settings.ui
    demo.server_app.tokens = ExpiringTokens(
        ui.session_hours * 3600,
        ui.idle_minutes * 60,
        on_expired=lambda name: log.info("login expired for %s", name),
    )
    # The web stack's loggers exist now: personal data is masked in all of them.
    install_log_masking()
    if block:
        demo.block_thread()
    return demo
