from ccx.bench.server_latency import Snapshot, parse_buckets, parse_totals, summarize

BOUNDS = ("0.005", "0.01", "0.02", "0.04", "0.08", "+Inf")


def exposition(counts: tuple[int, ...], status: str = "202") -> str:
    head = (
        "# HELP ccx_http_request_seconds HTTP request latency by route and status.\n"
        "# TYPE ccx_http_request_seconds histogram\n"
    )
    labels = f'method="POST",route="messages.create",status="{status}"'
    lines = [
        f'ccx_http_request_seconds_bucket{{le="{le}",{labels}}} {n}.0'
        for le, n in zip(BOUNDS, counts, strict=True)
    ]
    lines.append(f"ccx_http_request_seconds_count{{{labels}}} {counts[-1]}.0")
    lines.append(f"ccx_http_request_seconds_sum{{{labels}}} {counts[-1] * 0.012}")
    return head + "\n".join(lines) + "\n"


def snapshot(text: str) -> Snapshot:
    return Snapshot(parse_buckets(text), parse_totals(text))


def commits(batches: int, requests: int, seconds: float) -> str:
    return (
        "# HELP ccx_ingest_batch_size Requests per group commit.\n"
        "# TYPE ccx_ingest_batch_size histogram\n"
        f'ccx_ingest_batch_size_bucket{{le="+Inf"}} {batches}.0\n'
        f"ccx_ingest_batch_size_count {batches}.0\n"
        f"ccx_ingest_batch_size_sum {requests}.0\n"
        "# HELP ccx_ingest_commit_seconds Duration of one group commit.\n"
        "# TYPE ccx_ingest_commit_seconds histogram\n"
        f'ccx_ingest_commit_seconds_bucket{{le="+Inf"}} {batches}.0\n'
        f"ccx_ingest_commit_seconds_count {batches}.0\n"
        f"ccx_ingest_commit_seconds_sum {seconds}\n"
    )


def test_only_the_accepted_posts_are_read() -> None:
    text = (
        exposition((1, 2, 3, 4, 5, 6))
        + exposition((9, 9, 9, 9, 9, 9), "422").split("histogram\n")[1]
    )
    assert parse_buckets(text) == {0.005: 1, 0.01: 2, 0.02: 3, 0.04: 4, 0.08: 5, float("inf"): 6}


def test_quantiles_and_share_come_from_the_change_between_scrapes() -> None:
    before = snapshot(exposition((10, 10, 10, 10, 10, 10)))
    # 1,000 more requests: 500 within 10 ms, 990 within 20 ms, 996 within 40 ms
    after = snapshot(exposition((100, 510, 1000, 1006, 1010, 1010)))
    assert summarize(before, after) == {
        "requests": 1000,
        "p50_ms_at_most": 10.0,
        "p99_ms_at_most": 20.0,
        "share_within_40ms": 0.996,
        "mean_ms": 12.0,
    }


def test_group_commit_means_come_from_the_change_between_scrapes() -> None:
    before = snapshot(exposition((10, 10, 10, 10, 10, 10)) + commits(2, 10, 0.004))
    # 100 more commits of 1,000 requests in 0.3 s: 10 requests in 3 ms on average
    after = snapshot(exposition((10, 10, 1010, 1010, 1010, 1010)) + commits(102, 1010, 0.304))
    summary = summarize(before, after)
    assert summary["group_commit_mean_batch"] == 10.0
    assert summary["group_commit_mean_ms"] == 3.0
    assert summary["mean_ms"] == 12.0


def test_other_statuses_do_not_count_in_the_mean() -> None:
    text = (
        exposition((1, 2, 3, 4, 5, 6))
        + exposition((9, 9, 9, 9, 9, 9), "422").split("histogram\n")[1]
    )
    assert parse_totals(text)["ccx_http_request_seconds"] == (6 * 0.012, 6.0)


def test_a_tail_beyond_the_last_bound_has_no_bound() -> None:
    after = snapshot(exposition((0, 0, 0, 0, 90, 100)))
    summary = summarize(Snapshot(), after)
    assert summary["p50_ms_at_most"] == 80.0
    assert summary["p99_ms_at_most"] is None
    assert summary["share_within_40ms"] == 0.0


def test_no_request_between_scrapes_gives_nothing() -> None:
    same = snapshot(exposition((1, 2, 3, 4, 5, 6)))
    assert summarize(same, same) == {}
