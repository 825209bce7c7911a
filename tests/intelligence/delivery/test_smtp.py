"""`SMTP_URL` parsing and sending against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from gitpulse_app.intelligence.delivery.smtp import (
    CA_FILE_ENV,
    SMTPConfigError,
    SMTPDeliveryError,
    SMTPOutcomeUnknown,
    parse_smtp_url,
    send_message,
)


def _message(to: str = "alice@example.org") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "GitPulse <reports@localhost>"
    message["To"] = to
    message["Subject"] = "hello"
    message.set_content("body")
    return message


def test_parse_defaults_and_options():
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port) == ("mail.example.com", 25)
    assert not plain.implicit_tls and not plain.starttls
    assert plain.username is None and plain.password is None
    tls = parse_smtp_url("smtps://u:p@mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.starttls) == (465, True, False)
    starttls = parse_smtp_url("smtp://us%40er:p%3Ass%2Fw@mail.example.com:587?starttls=1")
    assert (starttls.port, starttls.starttls) == (587, True)
    assert (starttls.username, starttls.password) == ("us@er", "p:ss/w")
    assert "p:ss/w" not in repr(starttls)
    assert not parse_smtp_url("smtp://h?starttls=0").starttls


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://h:notaport"])
def test_parse_rejects_unusable_urls(url):
    with pytest.raises(SMTPConfigError):
        parse_smtp_url(url)


def test_plain_smtp_with_auth(fake_smtp):
    send_message(_message(), fake_smtp.smtp_url())
    [received] = fake_smtp.messages
    assert received.rcpt_tos == ["alice@example.org"]
    assert received.mail_from == "reports@localhost"
    assert received.auth_user == "gitpulse" and not received.tls


def test_starttls_with_auth_required(fake_smtp_factory, monkeypatch):
    server = fake_smtp_factory(tls="starttls", username="gitpulse", password="smtp-password",
                               require_auth=True)
    monkeypatch.setenv(CA_FILE_ENV, server.ca_file)
    send_message(_message(), server.smtp_url())
    [received] = server.messages
    assert received.tls and received.auth_user == "gitpulse"


def test_implicit_tls_with_auth_and_ca_parameter(fake_smtp_factory):
    server = fake_smtp_factory(tls="implicit", username="gitpulse", password="smtp-password",
                               require_auth=True)
    assert server.smtp_url().startswith("smtps://")
    send_message(_message(), server.smtp_url(), ca_file=server.ca_file)
    [received] = server.messages
    assert received.tls and received.auth_user == "gitpulse"


def test_untrusted_certificate_is_refused(fake_smtp_factory):
    server = fake_smtp_factory(tls="implicit")
    with pytest.raises(SMTPDeliveryError, match="TLS"):
        send_message(_message(), server.smtp_url())
    assert server.messages == []


def test_failures_are_described_without_credentials_or_addresses(fake_smtp_factory):
    server = fake_smtp_factory(username="gitpulse", password="smtp-password", require_auth=True)
    bad = server.smtp_url().replace("smtp-password", "wrong-password")
    with pytest.raises(SMTPDeliveryError) as auth:
        send_message(_message(), bad)
    assert "authentication failed" in str(auth.value) and "wrong-password" not in str(auth.value)

    server.reject_recipient("alice@example.org")
    with pytest.raises(SMTPDeliveryError) as refused:
        send_message(_message(), server.smtp_url())
    assert "Recipient refused" in str(refused.value) and "alice@" not in str(refused.value)

    server.fail_next_data(1, 451)
    with pytest.raises(SMTPDeliveryError, match="SMTP 451"):
        send_message(_message("carol@example.org"), server.smtp_url())

    server.refuse_connections()
    with pytest.raises(SMTPDeliveryError):
        send_message(_message("carol@example.org"), server.smtp_url())
    port = server.port
    server.stop()
    with pytest.raises(SMTPDeliveryError, match="refused|reach"):
        send_message(_message(), f"smtp://127.0.0.1:{port}")


# Once the server took the message, nothing sends it again (at most once) -------------------------
@pytest.mark.parametrize("quit_code", [421, 0], ids=["QUIT refused", "hang-up on QUIT"])
def test_a_failing_quit_after_the_message_was_accepted_is_success(fake_smtp, quit_code):
    fake_smtp.fail_next_quit(quit_code)
    send_message(_message(), fake_smtp.smtp_url())  # no error: the message is the server's now
    assert len(fake_smtp.messages) == 1


def test_a_timeout_after_the_data_was_sent_is_an_unknown_outcome(fake_smtp):
    fake_smtp.stall_next_data()
    with pytest.raises(SMTPOutcomeUnknown) as raised:
        send_message(_message(), fake_smtp.smtp_url(), timeout=0.5)
    assert "alice@example.org" not in str(raised.value)
    assert len(fake_smtp.messages) == 1  # the server did take it


def test_dots_and_long_bodies_survive_the_data_phase(fake_smtp):
    message = _message()
    message.set_content(".leading dot\n..two dots\nlast line\n" + "x" * 5000 + "\n")
    send_message(message, fake_smtp.smtp_url())
    received = fake_smtp.wait_for_messages(1)[0].message
    assert received.get_content() == message.get_content()


def test_a_refused_data_phase_is_a_plain_failure(fake_smtp):
    fake_smtp.fail_next_data(1, 554, "5.6.0 Message refused")
    with pytest.raises(SMTPDeliveryError, match="SMTP 554"):
        send_message(_message(), fake_smtp.smtp_url())
    assert fake_smtp.messages == []
