"""The generated op list is current, and missing ops fail clearly."""
import os
import subprocess
import sys

import pytest

import ndgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ops_md_is_generated_from_the_table():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_ops_doc.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_missing_op_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="fft_not_an_op"):
        ndgrad.fft_not_an_op
    with pytest.raises(AttributeError, match="not_a_method"):
        ndgrad.zeros(1).not_a_method()
