"""Market data in: the simulated market, csv replay and Binance, and Binance history downloads."""
