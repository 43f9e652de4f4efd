"""Where the exchange's public market data lives, by default (a setting everywhere it is used:
tests and the testnet point it elsewhere)."""

BINANCE_REST_URL = "https://api.binance.com"
BINANCE_WS_URL = "wss://stream.binance.com:9443"
