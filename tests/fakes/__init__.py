"""Test doubles the tests share: a fake Binance exchange and a look at child processes."""
