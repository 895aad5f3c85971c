import time

from docsbot.chat.slack_signature import slack_signature, slack_signature_valid

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&command=%2Fdocsbot&text=how+to+deploy"


def sign(body: bytes = BODY, timestamp: str | None = None, secret: str = SECRET) -> tuple[str, str]:
    timestamp = timestamp or str(int(time.time()))
    return timestamp, slack_signature(signing_secret=secret, timestamp=timestamp, body=body)


def test_it_matches_slacks_documented_example():
    # The example from Slack's "Verifying requests from Slack" guide.
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
            b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    signature = slack_signature(signing_secret=SECRET, timestamp="1531420618", body=body)
    assert signature == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert slack_signature_valid(signing_secret=SECRET, timestamp="1531420618", signature=signature,
                                 body=body, now=1531420618 + 10)


def test_it_accepts_a_fresh_correct_signature():
    timestamp, signature = sign()
    assert slack_signature_valid(signing_secret=SECRET, timestamp=timestamp, signature=signature, body=BODY)


def test_it_rejects_a_tampered_body():
    timestamp, signature = sign()
    assert not slack_signature_valid(signing_secret=SECRET, timestamp=timestamp, signature=signature,
                                     body=BODY + b"x")


def test_it_rejects_another_secret():
    timestamp, signature = sign(secret="other")
    assert not slack_signature_valid(signing_secret=SECRET, timestamp=timestamp, signature=signature, body=BODY)


def test_it_rejects_timestamps_outside_five_minutes():
    now = time.time()
    for offset in (-301, 301):
        timestamp, signature = sign(timestamp=str(int(now + offset)))
        assert not slack_signature_valid(signing_secret=SECRET, timestamp=timestamp, signature=signature,
                                         body=BODY, now=now)
    timestamp, signature = sign(timestamp=str(int(now - 299)))
    assert slack_signature_valid(signing_secret=SECRET, timestamp=timestamp, signature=signature, body=BODY, now=now)


def test_it_rejects_missing_or_malformed_headers():
    timestamp, signature = sign()
    assert not slack_signature_valid(signing_secret=SECRET, timestamp=None, signature=signature, body=BODY)
    assert not slack_signature_valid(signing_secret=SECRET, timestamp=timestamp, signature=None, body=BODY)
    assert not slack_signature_valid(signing_secret=SECRET, timestamp="soon", signature=signature, body=BODY)
    assert not slack_signature_valid(signing_secret="", timestamp=timestamp, signature=signature, body=BODY)
