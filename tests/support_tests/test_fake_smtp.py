"""The fake SMTP server must behave like a real mail server, over real sockets."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import pytest

from tests.support.fake_smtp import FakeSMTPServer


def _message(to: str = "dev@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "GitPulse <reports@localhost>"
    message["To"] = to
    message["Subject"] = "Weekly report"
    message.set_content("Plain body\n.leading dot line\n")
    message.add_alternative("<p>HTML body</p>", subtype="html")
    return message


def test_smtp_records_envelope_and_parsed_message_after_auth_plain(fake_smtp):
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        client.login("gitpulse", "smtp-password")
        client.send_message(_message(), to_addrs=["dev@example.com", "lead@example.com"])

    [recorded] = fake_smtp.messages
    assert recorded.mail_from == "reports@localhost"
    assert recorded.rcpt_tos == ["dev@example.com", "lead@example.com"]
    assert recorded.subject == "Weekly report"
    assert recorded.text == "Plain body\n.leading dot line\n"
    assert recorded.html.strip() == "<p>HTML body</p>"
    assert recorded.auth_user == "gitpulse"
    assert b"Subject: Weekly report" in recorded.data
    assert fake_smtp.auth_attempts[0].mechanism == "PLAIN"
    assert fake_smtp.url == f"smtp://gitpulse:smtp-password@127.0.0.1:{fake_smtp.port}"


def test_smtp_auth_login_and_wrong_password(fake_smtp):
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        client.ehlo()
        client.user, client.password = "gitpulse", "nope"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth("LOGIN", client.auth_login)
        assert refused.value.smtp_code == 535
        client.user, client.password = "gitpulse", "smtp-password"
        code, _ = client.auth("LOGIN", client.auth_login)
        assert code == 235

    assert [(a.mechanism, a.succeeded) for a in fake_smtp.auth_attempts] == [
        ("LOGIN", False),
        ("LOGIN", True),
    ]


def test_smtp_requires_auth_when_configured(fake_smtp):
    fake_smtp.require_auth = True

    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(_message())

    assert refused.value.smtp_code == 530
    assert fake_smtp.messages == []


def test_smtp_fails_the_next_n_data_commands_with_the_scripted_code(fake_smtp):
    fake_smtp.fail_next_data(2, code=451)

    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as failed:
                client.send_message(_message())
            assert failed.value.smtp_code == 451
        client.send_message(_message())

    assert len(fake_smtp.messages) == 1


def test_smtp_rejects_a_scripted_recipient(fake_smtp):
    fake_smtp.reject_recipient("gone@example.com")

    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.send_message(_message("gone@example.com"))


def test_smtp_can_refuse_connections_and_accept_again(fake_smtp):
    fake_smtp.refuse_connections(554)
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5)
    assert refused.value.smtp_code == 554

    fake_smtp.refuse_connections(None)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5)

    fake_smtp.accept_connections()
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=5) as client:
        assert client.noop()[0] == 250


def test_smtp_starttls_offers_auth_only_after_tls(fake_smtp_factory):
    server = fake_smtp_factory(username="u", password="p", require_auth=True, tls="starttls")
    context = ssl.create_default_context(cafile=server.ca_file)

    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls") and not client.has_extn("auth")
        client.starttls(context=context)
        client.login("u", "p")
        client.send_message(_message())

    assert server.messages[0].tls
    assert server.url == f"smtp://u:p@127.0.0.1:{server.port}?starttls=1"


def test_smtps_speaks_tls_from_the_first_byte(fake_smtp_factory):
    server = fake_smtp_factory(tls="implicit")
    context = ssl.create_default_context(cafile=server.ca_file)

    with smtplib.SMTP_SSL(server.host, server.port, timeout=5, context=context) as client:
        client.send_message(_message())

    assert server.wait_for_messages(1)[0].tls
    assert server.url.startswith("smtps://127.0.0.1:")


def test_stopped_smtp_server_refuses_tcp_connections():
    server = FakeSMTPServer().start()
    port = server.port
    server.stop()

    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)
