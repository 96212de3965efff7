"""The chat as a model (ids, versions, branches, notices) and the reply state machine: plain pytest."""

from __future__ import annotations

from chatbot_gui.core.conversation import Conversation, Status
from chatbot_gui.core.errors import ErrorInfo
from chatbot_gui.core.personas import Persona
from chatbot_gui.core.reply_state import Phase, ReplyState


def chat_with_turns(*pairs: tuple[str, str]) -> Conversation:
    conv = Conversation(persona=Persona("P", "Be brief."))
    for question, answer in pairs:
        conv.add_user(question)
        reply = conv.start_reply("m")
        reply.content, reply.status = answer, Status.COMPLETE
    return conv


def test_messages_have_stable_ids_and_follow_each_other():
    conv = chat_with_turns(("q1", "a1"), ("q2", "a2"))
    ids = [m.id for m in conv.messages]
    assert len(set(ids)) == 4
    assert [m.parent for m in conv.messages] == [None, *ids[:-1]]
    assert conv.find(ids[2]).content == "q2"


def test_regenerate_keeps_the_earlier_reply_as_a_version_and_sends_the_context_before_it():
    conv = chat_with_turns(("q1", "a1"), ("q2", "a2"))
    old = conv.messages[-1]
    new = conv.regenerate(old.id, "m")
    assert new is not None and conv.messages[-1] is new and old not in conv.messages
    assert conv.version_of(new.id) == (2, 2) and conv.version_of(old.id) == (1, 2)
    assert conv.context() == [("system", "Be brief."), ("user", "q1"), ("assistant", "a1"), ("user", "q2")]
    new.content, new.status = "a2 again", Status.COMPLETE
    shown = conv.switch_version(new.id, -1)
    assert shown is old and conv.messages[-1] is old
    assert conv.switch_version(old.id, -1) is old  # no version before the first
    assert conv.switch_version(old.id, +1) is new


def test_edit_keeps_the_old_branch_reachable_with_what_followed_it():
    conv = chat_with_turns(("q1", "a1"), ("q2", "a2"), ("q3", "a3"))
    q2 = conv.messages[2]
    edited = conv.edit(q2.id, "q2 edited")
    assert [m.content for m in conv.messages] == ["q1", "a1", "q2 edited"]
    assert conv.context()[-1] == ("user", "q2 edited")
    reply = conv.start_reply("m")
    reply.content, reply.status = "new a2", Status.COMPLETE
    assert conv.version_of(edited.id) == (2, 2)
    conv.switch_version(edited.id, -1)
    assert [m.content for m in conv.messages] == ["q1", "a1", "q2", "a2", "q3", "a3"]
    conv.switch_version(q2.id, +1)
    assert [m.content for m in conv.messages] == ["q1", "a1", "q2 edited", "new a2"]


def test_reveal_shows_the_branch_holding_a_message():
    conv = chat_with_turns(("q1", "a1"), ("q2", "a2"))
    old_a2 = conv.messages[-1]
    q1 = conv.messages[0]
    conv.edit(q1.id, "q1 again")
    assert old_a2 not in conv.messages
    assert conv.reveal(old_a2.id)
    assert [m.content for m in conv.messages] == ["q1", "a1", "q2", "a2"]
    assert not conv.reveal(old_a2.id)  # already shown


def test_editing_the_first_message_makes_a_second_start():
    conv = chat_with_turns(("q1", "a1"))
    conv.edit(conv.messages[0].id, "other start")
    assert [m.content for m in conv.messages] == ["other start"]
    assert conv.version_of(conv.messages[0].id) == (2, 2)


def test_delete_joins_what_followed_to_what_came_before():
    conv = chat_with_turns(("q1", "a1"), ("q2", "a2"))
    a1 = conv.messages[1]
    conv.remove(a1.id)
    assert [m.content for m in conv.messages] == ["q1", "q2", "a2"]
    assert conv.find(a1.id) is None
    conv.remove(conv.messages[-1].id)
    assert [m.content for m in conv.messages] == ["q1", "q2"]


def test_notices_sit_in_the_timeline_and_are_never_sent():
    conv = chat_with_turns(("q1", "a1"))
    reply_in_flight = conv.start_reply("m")
    notice = conv.add_notice("Persona: Sarcastic assistant")
    reply_in_flight.content += "still coming"
    assert [m.role for m in conv.messages] == ["user", "assistant", "assistant", "notice"]
    assert notice.parent == reply_in_flight.id
    reply_in_flight.status = Status.COMPLETE
    assert ("notice", notice.content) not in conv.context()
    assert conv.context()[-1] == ("assistant", "still coming")


def test_reloaded_tree_shows_the_selected_versions():
    conv = Conversation()
    from chatbot_gui.core.conversation import Message

    q, a1, a2 = Message("user", "q"), Message("assistant", "a1"), Message("assistant", "a2")
    conv.add_loaded(q, None)
    conv.add_loaded(a1, q.id, selected=True)
    conv.add_loaded(a2, q.id, selected=False)
    conv.relink()
    assert [m.content for m in conv.messages] == ["q", "a1"]
    assert conv.version_of(a1.id) == (1, 2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


RATE = ErrorInfo("rate_limit", "Too many requests", retryable=True, retry_after=2.5)


def test_reply_goes_sending_streaming_done():
    state = ReplyState(Clock())
    assert state.phase is Phase.SENDING and state.active
    state.text_arrived()
    assert state.phase is Phase.STREAMING
    assert state.ended("complete", finish_reason="stop") is Phase.DONE and not state.active


def test_rate_limit_waits_until_the_deadline_then_retries_at_most_three_times():
    clock = Clock()
    state = ReplyState(clock)
    for n in range(3):
        assert state.ended("error", RATE) is Phase.WAITING
        assert state.seconds_left() == 3  # 2.5 s rounded up
        clock.now += 2.9
        assert not state.due() and state.seconds_left() == 1
        clock.now += 0.1
        assert state.due()
        assert state.retry() and state.phase is Phase.SENDING and state.attempts == n + 2
    assert state.ended("error", RATE) is Phase.FAILED
    assert state.can_retry and state.deadline is None


def test_stop_during_the_countdown_leaves_a_normal_failure_with_retry():
    clock = Clock()
    state = ReplyState(clock)
    state.ended("error", RATE)
    assert state.cancel() is Phase.FAILED
    clock.now += 100
    assert not state.due() and state.seconds_left() == 0
    assert state.can_retry and state.error is RATE
    assert state.retry() and state.phase is Phase.SENDING


def test_stop_during_a_retry_before_anything_arrived_leaves_the_failure_with_retry():
    state = ReplyState(Clock())
    state.ended("error", RATE)
    assert state.retry() and state.retrying
    assert state.cancel() is Phase.FAILED
    assert state.can_retry and state.error is RATE
    assert state.ended("stopped") is Phase.FAILED  # the stopped attempt's late report changes nothing
    assert state.retry() and state.phase is Phase.SENDING
    state.text_arrived()  # this one answers: Stop now keeps what arrived, as any stop does
    assert not state.retrying and state.cancel() is Phase.STOPPED and not state.can_retry


def test_stop_in_flight_is_stopped_and_a_late_report_changes_nothing():
    state = ReplyState(Clock())
    state.text_arrived()
    assert state.cancel() is Phase.STOPPED
    assert state.ended("complete") is Phase.STOPPED
    assert not state.retry()


def test_the_wait_is_capped_and_errors_without_retry_after_fail_at_once():
    state = ReplyState(Clock(), max_wait=60)
    state.ended("error", ErrorInfo("rate_limit", "x", retryable=True, retry_after=600))
    assert state.seconds_left() == 60
    other = ReplyState(Clock())
    assert other.ended("error", ErrorInfo("auth", "bad key", retryable=False)) is Phase.FAILED and not other.can_retry
