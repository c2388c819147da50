using System.Globalization;
using System.Net.Http.Headers;
using Pipeline.Bench.Latency;

namespace Pipeline.Bench;

/// <summary>How many requests each fixed-rate run sends, and its rate as a percentage of the slower maximum of its pair.</summary>
internal sealed record LatencyOptions(int Requests, int RatePercent);

/// <summary>One path and its raw SQS baseline, driven at the same rate and concurrency.</summary>
internal sealed record LatencyPair(string Raw, Func<Task<bool>> SendRaw, string Api, Func<Task<bool>> SendApi, double MaxRaw, double MaxApi)
{
    public double Rate(int percent) => Math.Min(MaxRaw, MaxApi) * percent / 100;
}

/// <summary>
/// The api benchmark's fixed-rate section: p50, p99 and p99.9 of each path and of its raw baseline at the same constant rate
/// (<see cref="FixedRateClient"/>), raw first, each run on an empty queue.
/// </summary>
internal static class ApiLatency
{
    // The systems this pipeline grew from promise an answer within this (README, docs/benchmarks.md).
    private const double PromisedMs = 100;

    public static async Task<string> RunAsync(IReadOnlyList<LatencyPair> pairs, LatencyOptions options, int connections, Func<Task> purge)
    {
        var warmUp = Math.Max(connections * 20, options.Requests / 50);
        var runs = new List<(LatencyPair Pair, FixedRateRun Raw, FixedRateRun Api)>();
        foreach (var pair in pairs)
        {
            var rate = pair.Rate(options.RatePercent);
            var raw = await MeasureAsync(pair.Raw, pair.SendRaw, rate, options.Requests, warmUp, connections, purge);
            var api = await MeasureAsync(pair.Api, pair.SendApi, rate, options.Requests, warmUp, connections, purge);
            runs.Add((pair, raw, api));
        }
        return Report(runs, options, warmUp, connections);
    }

    /// <summary>POSTs the body with the benchmark's API key, as wrk does above; true on a 2xx.</summary>
    public static Func<Task<bool>> Post(HttpClient http, string url, string body, string key)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        return async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(bytes) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("x-api-key", key);
            using var response = await http.SendAsync(request);
            return response.IsSuccessStatusCode;
        };
    }

    private static async Task<FixedRateRun> MeasureAsync(string name, Func<Task<bool>> send, double rate, int requests, int warmUp, int connections,
        Func<Task> purge)
    {
        await FixedRateClient.RunAsync(rate, warmUp, connections, send);
        await purge();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {requests} requests at {rate:0} a second..."));
        var run = await FixedRateClient.RunAsync(rate, requests, connections, send);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  sent at {run.SentRate:0}/s; p50 {run.Latency.P50:0.00} ms, p99 {run.Latency.P99:0.00} ms, "
            + $"p99.9 {run.Latency.P999:0.00} ms; {run.Errors} errors"));
        await purge();
        return run;
    }

    private static string Report(List<(LatencyPair Pair, FixedRateRun Raw, FixedRateRun Api)> runs, LatencyOptions options, int warmUp, int connections)
    {
        var lines = new List<string>
        {
            "## Latency at a fixed rate",
            "",
            string.Create(CultureInfo.InvariantCulture, $"Each Api path and its raw SQS baseline at the same constant rate: {options.RatePercent}% of the slower of the two "
                + $"maxima measured above, so the pair compares at one rate. {options.Requests} requests a run after {warmUp} not counted, at most "
                + $"{connections} in flight, from a constant-rate client in the benchmark's process (bench/Pipeline.Bench/Latency). Latency runs from "
                + $"each request's due time, not from when it went out, so a stall counts against every request due during it "
                + $"(no coordinated omission); *from send* is the server's part alone, and *send lag* the client's (its timer, "
                + $"and waits for a free connection)."),
            "",
            "| measurement | rate req/s (sent) | p50 ms | p99 ms | p99.9 ms | max ms | p99.9 from send ms | send lag p99.9 ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        };
        foreach (var (pair, raw, api) in runs)
        {
            lines.Add(Row(pair.Raw, raw));
            lines.Add(Row(pair.Api, api));
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"| *ratio, Api / raw* | | {Ratio(api.Latency.P50, raw.Latency.P50)} | {Ratio(api.Latency.P99, raw.Latency.P99)} | "
                + $"{Ratio(api.Latency.P999, raw.Latency.P999)} | {Ratio(api.Latency.Max, raw.Latency.Max)} | {Ratio(api.Service.P999, raw.Service.P999)} | | |"));
        }
        lines.Add("");
        foreach (var (pair, raw, api) in runs)
        {
            var verdict = api.Latency.P999 < PromisedMs ? "under" : "over";
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"- {pair.Api}: p99.9 **{api.Latency.P999:0.0} ms** at {api.Rate:0} requests/s, {verdict} the "
                + $"{PromisedMs:0} ms the systems we grew from promise (p99 {api.Latency.P99:0.0} ms); raw SendMessage at the same rate: "
                + $"{raw.Latency.P999:0.0} ms."));
        }
        return string.Join('\n', lines) + "\n";
    }

    private static string Row(string name, FixedRateRun run) => string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {run.Rate:0} ({run.SentRate:0}) | {run.Latency.P50:0.00} | {run.Latency.P99:0.00} | {run.Latency.P999:0.00} | {run.Latency.Max:0.0} | "
        + $"{run.Service.P999:0.00} | {run.SendLag.P999:0.00} | {run.Errors} |");

    private static string Ratio(double api, double raw) => string.Create(CultureInfo.InvariantCulture, $"{api / raw:0.00}×");
}
