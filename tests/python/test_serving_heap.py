"""A blocking server takes what start-up left out of the garbage collector
(gc.freeze) while it serves, and gives it back (gc.unfreeze) when it stops."""

import gc
import threading
import time

import serving_kit


def test_a_blocking_server_freezes_the_start_up_heap_and_unfreezes_it_on_stop(serving_artifacts):
    import kerasexport

    assert gc.get_freeze_count() == 0
    server = kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, poll_seconds=0, quiet=True)
    thread = threading.Thread(target=server.run, kwargs={"announce": False}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            if server.url is not None:
                try:
                    client = serving_kit.Client(server.url, timeout=5)
                    status = client.request("GET", "/v2/health/ready")[0]
                    client.close()
                except OSError:
                    status = None
                if status == 200:
                    break
            time.sleep(0.05)
        assert status == 200
        assert gc.get_freeze_count() > 0  # frozen once it answers
    finally:
        server.stop()
        thread.join(60)
    assert not thread.is_alive()
    assert gc.get_freeze_count() == 0
