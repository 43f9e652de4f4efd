"""Print the simulated market's statistics beside the real data's (docs/simulation.md).

    python scripts/simulation_check.py [--seed 7] [--years 6] [--seeds 1]

The real column is the shipped BTC sample (resources/data/BTCUSD-1h-sample.csv); the model
column is a seeded run of BTC and ETH from 2024-01-01, hour by hour, as the feed draws it.
With --seeds N it shows the median and range over N seeds instead.
"""

from __future__ import annotations

import argparse

import numpy as np

from velocitas_desktop.feeds.calibration import (
    daily_correlation,
    market_statistics,
    simulated_bars,
)
from velocitas_desktop.feeds.csvdata import load_ohlcv
from velocitas_desktop.feeds.market_model import HOUR
from velocitas_desktop.feeds.simulated import SEEDED_START
from velocitas_desktop.paths import sample_data_dir

# 2018-2019 daily closes from Bitstamp (docs/simulation.md, "Sources")
ETH_FIGURES = {"BTC/ETH daily correlation": 0.823, "ETH/BTC daily volatility": 1.26}


def model_figures(seed: int, years: float) -> dict[str, float]:
    stamps, closes, activity, _ = simulated_bars(["BTC", "ETH"], seed, SEEDED_START,
                                                 int(years * 365 * 24))
    btc = market_statistics(stamps, closes[:, 0], activity[:, 0])
    eth = market_statistics(stamps, closes[:, 1], activity[:, 1])
    return {**btc.as_dict(),
            "BTC/ETH daily correlation": daily_correlation(stamps, closes[:, 0], closes[:, 1]),
            "ETH/BTC daily volatility": eth.daily_vol / btc.daily_vol}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--years", type=float, default=6.0)
    parser.add_argument("--seeds", type=int, default=1, help="seeds from --seed on")
    args = parser.parse_args()
    bars = load_ohlcv(sample_data_dir() / "BTCUSD-1h-sample.csv")
    real = {**market_statistics(bars.timestamp + HOUR, bars.close, bars.volume).as_dict(),
            **ETH_FIGURES}
    runs = [model_figures(args.seed + k, args.years) for k in range(args.seeds)]
    title = (f"seed {args.seed}" if args.seeds == 1
             else f"median (range), seeds {args.seed}-{args.seed + args.seeds - 1}")
    print(f"{'statistic':<28}{'real':>10}   model: {title}, {args.years:g} years")
    for name, target in real.items():
        values = np.array([run[name] for run in runs])
        if values.size == 1:
            shown = f"{values[0]:.4g}"
        else:
            shown = (f"{np.median(values):.4g} ({values.min():.4g} to {values.max():.4g})")
        print(f"{name:<28}{target:>10.4g}   {shown}")


if __name__ == "__main__":
    main()
