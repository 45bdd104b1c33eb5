"""List prices of model calls (genai-prices), for calls that report no cost and for the forecast."""

from __future__ import annotations


def list_price(model: str, base_url: str | None, prompt_tokens: int, cached: int, completion: int,
               cache_write: int = 0) -> float | None:
    """List price of one call, or None when genai-prices does not know the model (e.g. a local model).
    `prompt_tokens` includes the `cached` (read) and `cache_write` ones. The provider is found from the
    endpoint, else (a proxy, a mock) from the model name alone."""
    from genai_prices import Usage, calc_price
    usage = Usage(input_tokens=prompt_tokens, cache_read_tokens=cached, cache_write_tokens=cache_write,
                  output_tokens=completion)
    for url in (base_url or None, None):        # provider_api_url=None: found from the model name
        try:
            return float(calc_price(usage, model_ref=model, provider_api_url=url).total_price)
        except LookupError:
            continue
    return None


def mtok_rates(model: str, base_url: str | None) -> dict[str, float] | None:
    """The model's list prices per million tokens (the base tier of tiered ones): input, output and,
    where listed, cache_read / cache_write; None when genai-prices does not know the model. For CLIs
    that price their own calls from a configured table (OpenCode)."""
    from genai_prices import Usage, calc_price
    for url in (base_url or None, None):
        try:
            price = calc_price(Usage(), model_ref=model, provider_api_url=url).model_price
        except LookupError:
            continue
        rates = {}
        for key, field in (("input", "input_mtok"), ("output", "output_mtok"), ("cache_read", "cache_read_mtok"),
                           ("cache_write", "cache_write_mtok")):
            value = getattr(price, field, None)
            value = getattr(value, "base", value)        # TieredPrices: the rate below the first threshold
            if value is not None:
                rates[key] = float(value)
        return rates
    return None
