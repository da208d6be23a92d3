"""engine.tools.inputs: every form an SES message reaches `dry-run` in becomes one Lambda SES event."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from engine.tools.inputs import Input, read_inputs, to_lambda_event
from tests.conftest import CORPUS, corpus_files, need

SNS_BODY = "fx-private-relay--dmarc_failed_email_sns_body.json"


def only(args, **kwargs) -> Input:
    [result] = list(read_inputs(args, **kwargs))
    return result


def assert_lambda_event(event: dict) -> None:
    assert isinstance(event["Records"], list) and event["Records"]
    for record in event["Records"]:
        assert record["eventSource"] == "aws:ses" and record["eventVersion"] == "1.0"
        assert isinstance(record["ses"]["mail"], dict)
        assert isinstance(record["ses"]["receipt"], dict)


@pytest.mark.parametrize("path", corpus_files("ses-events", "*.json"))
def test_every_corpus_event_is_read(path):
    result = only([str(need(path))])
    assert result.error is None and result.label == str(path)
    assert_lambda_event(result.event)


def test_byte_order_mark_is_accepted():
    path = need(CORPUS / "ses-events" / "aws-lambda-dotnet--simple-email-event-lambda.json")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    event = only([str(path)]).event
    assert event == json.loads(path.read_text(encoding="utf-8-sig"))


def sns_envelope() -> dict:
    return json.loads(need(CORPUS / "ses-events" / SNS_BODY).read_text(encoding="utf-8-sig"))


def test_sns_envelope_becomes_the_lambda_action_event():
    envelope = sns_envelope()
    notification = json.loads(envelope["Message"])
    event = to_lambda_event(envelope)
    assert event == {"Records": [{"eventSource": "aws:ses", "eventVersion": "1.0", "ses": {
        "mail": notification["mail"], "receipt": notification["receipt"]}}]}
    assert event["Records"][0]["ses"]["receipt"]["dmarcPolicy"] == "reject"


def test_all_sns_forms_give_the_same_event():
    envelope = sns_envelope()
    notification = json.loads(envelope["Message"])
    notification["content"] = "From: a@x.example\r\n\r\nraw message\r\n"  # SNS action only
    lambda_sns = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                               "Sns": {"Type": "Notification", "Message": json.dumps(notification)}}]}
    events = [to_lambda_event(form) for form in (envelope, notification, lambda_sns)]
    assert events[0] == events[1] == events[2]
    assert "content" not in events[1]["Records"][0]["ses"]


@pytest.mark.parametrize("obj, message", [
    ([], "the JSON is a list, not an object"),
    ({"Records": []}, "Records must be a non-empty list"),
    ({"Records": "x"}, "Records must be a non-empty list"),
    ({"Records": [{"eventSource": "aws:s3"}]}, "Records[0] is neither an SES record"),
    ({"notificationType": "Bounce", "mail": {}}, "an SES 'Bounce' notification"),
    ({"notificationType": "Received", "mail": {}}, "without a receipt object"),
    ({"Type": "Notification", "Message": "{not json"}, "the SNS Message: invalid JSON at line 1, column 2"),
    ({"Type": "Notification", "Message": 5}, "the SNS Message: expected a JSON string, not a number"),
    ({"Type": "SubscriptionConfirmation", "TopicArn": "arn:aws:sns:us-east-1:1:t"},
     "an SNS 'SubscriptionConfirmation' message"),
    ({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "[]"}}]},
     "Records[0]: not an SES notification: a list"),
    ({"mail": {}, "receipt": {}}, "not an SES event: expected a Lambda event"),
])
def test_json_that_is_no_ses_event_says_why(obj, message):
    with pytest.raises(ValueError) as info:
        to_lambda_event(obj)
    assert message in str(info.value)


def test_eml_file_becomes_an_event(tmp_path):
    path = tmp_path / "m.eml"
    path.write_bytes(b"From: Boss <boss@x.example>\r\nTo: t@y.example\r\nSubject: hi\r\n\r\nbody\r\n")
    result = only([str(path)])
    assert result.error is None
    assert result.event["Records"][0]["ses"]["mail"]["commonHeaders"]["subject"] == "hi"


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_directory_is_read_recursively_and_sorted(tmp_path):
    event = json.dumps(to_lambda_event(sns_envelope())).encode()
    write(tmp_path, "events/b.json", event)
    write(tmp_path, "events/a/z.eml", b"From: a@x.example\n\nbody\n")
    write(tmp_path, "events/a/y.JSON", event)
    write(tmp_path, "events/notes.txt", b"ignored")
    write(tmp_path, "events/c/bad.json", b"{")
    results = list(read_inputs([str(tmp_path / "events")]))
    base = str(tmp_path / "events")
    assert [r.label for r in results] == [f"{base}/a/y.JSON", f"{base}/a/z.eml", f"{base}/b.json",
                                         f"{base}/c/bad.json"]
    assert [r.error is None for r in results] == [True, True, True, False]
    trailing = list(read_inputs([base + "/"]))
    assert trailing[0].label == f"{base}/a/y.JSON"


def test_empty_directory_is_a_row_with_a_reason(tmp_path):
    assert only([str(tmp_path)]) == Input(str(tmp_path), None,
                                          "no .json or .eml files in this directory")


@pytest.mark.parametrize("name, data, message", [
    ("bad.json", b'{\n  "Records": [\n    1\n    2\n  ]\n}', "invalid JSON at line 4, column 5"),
    ("latin.json", b'{"a": "caf\xe9"}', "not UTF-8 text"),
    ("other.json", b'{"hello": "world"}', "not an SES event"),
    ("empty.json", b"", "invalid JSON at line 1, column 1"),
    ("deep.json", b"[" * 100000, "invalid JSON"),
    ("image.eml", b"\x89PNG\r\n\x1a\n", "not an e-mail message"),
])
def test_unreadable_inputs_get_a_reason(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    result = only([str(tmp_path / name)])
    assert result.event is None and message in result.error


def test_missing_file_gets_a_reason():
    assert only(["/nonexistent/event.json"]) == Input("/nonexistent/event.json", None,
                                                      "no such file")


@pytest.mark.parametrize("data, subject", [
    (b"\xef\xbb\xbf  " + json.dumps(to_lambda_event({"notificationType": "Received", "mail": {
        "commonHeaders": {"subject": "json"}}, "receipt": {}})).encode(), "json"),
    (b"Subject: raw\n\nbody\n", "raw"),
])
def test_stdin_and_unknown_suffixes_are_sniffed(tmp_path, data, subject):
    result = only(["-"], stdin=io.BytesIO(data))
    assert result.label == "-" and result.error is None
    assert result.event["Records"][0]["ses"]["mail"]["commonHeaders"]["subject"] == subject
    (tmp_path / "message.txt").write_bytes(data)
    assert only([str(tmp_path / "message.txt")]).event == result.event


def test_one_bad_input_does_not_stop_the_others(tmp_path):
    good = tmp_path / "good.eml"
    good.write_bytes(b"From: a@x.example\n\n")
    results = list(read_inputs([str(tmp_path / "missing.eml"), str(good)]))
    assert [r.error is None for r in results] == [False, True]


def test_unreadable_stdin_gets_a_reason():
    closed = io.BytesIO(b"")
    closed.close()
    result = only(["-"], stdin=closed)
    assert result.event is None and result.error.startswith("cannot read standard input")


POLICY_TEXT = b"version: 1\nrules: []\n"


@pytest.mark.parametrize("name", ["other.yaml", "other.yml", "other", "other.txt", "other.eml"])
def test_a_policy_given_as_an_input_is_recognised(tmp_path, name):
    """`dry-run old.yaml new.yaml events/`: the second policy was decided as a message (CONTINUE)."""
    (tmp_path / name).write_bytes(POLICY_TEXT)
    result = only([str(tmp_path / name)])
    assert result.event is None
    assert result.error.startswith("a policy, not a message") and "did you mean diff" in result.error


def test_other_yaml_is_not_read_as_a_message(tmp_path):
    (tmp_path / "t.yaml").write_bytes(b"policy: p.yaml\ncases: []\n")
    assert only([str(tmp_path / "t.yaml")]).error == "a YAML file, not a message (.eml) or an SES event (.json)"


def test_a_policy_on_standard_input_is_recognised():
    assert only(["-"], stdin=io.BytesIO(POLICY_TEXT)).error.startswith("a policy, not a message")


def test_a_message_quoting_a_policy_in_its_body_is_still_a_message(tmp_path):
    (tmp_path / "m.eml").write_bytes(b"From: a@x.example\nSubject: my policy\n\n" + POLICY_TEXT)
    assert only([str(tmp_path / "m.eml")]).event is not None


@pytest.mark.timeout(30)
def test_a_fifo_named_eml_in_a_folder_gets_its_row_and_the_run_goes_on(tmp_path):
    import os
    (tmp_path / "a.eml").write_bytes(b"From: a@x.example\n\nhi\n")
    os.mkfifo(tmp_path / "b.eml")
    (tmp_path / "c.eml").write_bytes(b"From: c@x.example\n\nhi\n")
    rows = list(read_inputs([str(tmp_path)]))
    assert [Path(r.label).name for r in rows] == ["a.eml", "b.eml", "c.eml"]
    assert rows[0].event and rows[2].event and rows[1].error == "cannot read: a FIFO (named pipe), not a regular file"
