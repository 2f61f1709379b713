"""In a real Jupyter kernel process: a compile error and a call with bad shapes are errors in
their cells, and the kernel is still alive and answering afterwards."""
import os

import pytest
from jupyter_client.manager import start_new_kernel

from symnb.kernels.cpp import compiler

pytestmark = pytest.mark.skipif(not compiler.compiler_available()[0], reason="no C++ compiler")

BREAK = '''
from symnb.kernels.cpp.renderer import CppRenderer
render = CppRenderer.render
def broken(self, fgraph):
    out = render(self, fgraph)
    out.source = out.source.replace("\\n// 0:", "\\nint symnb_broken = undeclared_name;\\n// 0:", 1)
    return out
CppRenderer.render = broken
'''


def execute(kc, code):
    """(reply content, text of the stream and error outputs) of one cell."""
    texts = []

    def collect(msg):
        c = msg["content"]
        if msg["msg_type"] == "stream":
            texts.append(c["text"])
        elif msg["msg_type"] == "error":
            texts.append("\n".join(c["traceback"]))
        elif msg["msg_type"] == "execute_result":
            texts.append(c["data"].get("text/plain", ""))
    reply = kc.execute_interactive(code, timeout=120, output_hook=collect)
    return reply["content"], "".join(texts)


def test_kernel_survives_a_compile_error_and_a_bad_shape_call(tmp_path):
    env = dict(os.environ, SYMNB_CACHE_DIR=str(tmp_path / "cache"))
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        assert execute(kc, "import numpy as np\n%load_ext symnb")[0]["status"] == "ok"
        execute(kc, BREAK)
        reply, text = execute(kc, "%%symbolic --function f --show none\nx = dvector('x')\ny = exp(x) * 2")
        assert reply["status"] == "error" and reply["ename"] == "CompileError"
        assert "undeclared_name" in text and "Traceback" not in text
        assert km.is_alive()

        execute(kc, "CppRenderer.render = render")
        cell = "%%symbolic --function g --show none\na = dvector('a')\nb = dvector('b')\nc = a + b"
        assert execute(kc, cell)[0]["status"] == "ok"
        reply, text = execute(kc, "g(np.ones(3), np.ones(4))")
        assert reply["status"] == "error" and reply["ename"] == "ValueError"
        assert "while computing add" in text and "c = a + b" in text      # the cell line that built it
        assert km.is_alive()

        reply, text = execute(kc, "print(g(np.ones(2), np.ones(2)) + 40)")
        assert reply["status"] == "ok" and "[42. 42.]" in text
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
