from gitpulse_app.core.signals import Signal


def test_receivers_get_the_payload_and_a_failing_one_does_not_stop_others(caplog):
    signal = Signal("demo")
    seen = []

    def broken(**payload):
        raise RuntimeError("boom")

    signal.connect(broken)
    signal.connect(lambda **payload: seen.append(payload))
    signal.send(batch_id=7)
    assert seen == [{"batch_id": 7}]
    assert "Receiver of demo failed" in caplog.text


def test_connecting_twice_delivers_once():
    signal = Signal("demo")
    seen = []

    def receiver(**payload):
        seen.append(payload)

    signal.connect(receiver)
    signal.connect(receiver)
    signal.send(x=1)
    signal.disconnect(receiver)
    signal.send(x=2)
    assert seen == [{"x": 1}]
