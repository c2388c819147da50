using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Pipeline.Cli.Commands;

/// <summary>What the load generator sends.</summary>
public sealed record LoadOptions
{
    /// <summary>Events per second.</summary>
    public int Rate { get; init; } = 50;

    /// <summary>How long to send.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Events per request: 1 posts to <c>/events</c>, more to <c>/events/batch</c>.</summary>
    public int Batch { get; init; } = 1;

    /// <summary>Event types to choose from.</summary>
    public IReadOnlyList<string> Types { get; init; } = ["page_view", "signup", "purchase", "search", "checkout.completed"];

    /// <summary>Share of events sent again with the same eventId (a client's retry).</summary>
    public double DuplicateShare { get; init; } = 0.05;

    /// <summary>Share of events the API must refuse (no user, a bad type, a number DynamoDB cannot store).</summary>
    public double InvalidShare { get; init; } = 0.05;

    /// <summary>The random seed, so a run can be repeated.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Most requests in flight at once; 0 for no limit. 1 sends as one Lambda instance of the Api receives: one request at a time.</summary>
    public int Concurrency { get; init; }
}

/// <summary>What a load run did: answers per event (a duplicate accepted again counts again), and request latencies.</summary>
public sealed record LoadReport(long Sent, long Accepted, long Refused, long Unavailable, long NetworkErrors, double P50Ms, double P95Ms, double P99Ms, TimeSpan Elapsed)
{
    /// <summary>A few lines for a person.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"sent {Sent} events in {Elapsed.TotalSeconds:0.0} s ({Sent / Math.Max(Elapsed.TotalSeconds, 0.001):0}/s): accepted {Accepted}, refused {Refused}; " +
        $"retried after 503/429: {Unavailable}, after network errors: {NetworkErrors}; request latency p50 {P50Ms:0.0} ms, p95 {P95Ms:0.0} ms, p99 {P99Ms:0.0} ms");
}

/// <summary>
/// A well-behaved client of the public API, for load and fault tests: realistic events (several types, users and property
/// shapes, a share of duplicates and of invalid ones), each with its own eventId, so a retry is safe; retries 503 and 429
/// after Retry-After, and network errors after a second, until the event is answered.
/// </summary>
public sealed class LoadGenerator(Uri api, string key, LoadOptions options) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) };
    private readonly Random _random = new(options.Seed);
    private readonly ConcurrentBag<double> _latencies = [];
    private readonly SemaphoreSlim? _inFlight = options.Concurrency > 0 ? new(options.Concurrency) : null;
    private long _sent;
    private long _accepted;
    private long _refused;
    private long _unavailable;
    private long _networkErrors;

    /// <summary>Events answered accepted, by eventId, with the JSON that was sent.</summary>
    public ConcurrentDictionary<string, string> Accepted { get; } = new();

    /// <summary>Sends for the options' duration at their rate; <paramref name="progress"/> gets a step each second (seconds of the duration).</summary>
    public async Task<LoadReport> RunAsync(IProgress<Cli.ProgressStep>? progress, CancellationToken cancellationToken)
    {
        var inFlight = new List<Task>();
        var clock = Stopwatch.StartNew();
        var lastProgress = TimeSpan.Zero;
        var total = (long)(options.Rate * options.Duration.TotalSeconds);
        for (long i = 0; i < total && !cancellationToken.IsCancellationRequested; i += options.Batch)
        {
            var events = Enumerable.Range(0, (int)Math.Min(options.Batch, total - i)).Select(n => NextEvent(i + n)).ToList();
            Interlocked.Add(ref _sent, events.Count);
            inFlight.Add(SendAsync(events, cancellationToken));
            var due = TimeSpan.FromSeconds((i + options.Batch) / (double)options.Rate) - clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, cancellationToken).ConfigureAwait(false);
            }
            if (progress is not null && clock.Elapsed - lastProgress >= TimeSpan.FromSeconds(1))
            {
                lastProgress = clock.Elapsed;
                progress.Report(new Cli.ProgressStep(clock.Elapsed.TotalSeconds, options.Duration.TotalSeconds, Report(clock.Elapsed).ToString()));
            }
        }
        await Task.WhenAll(inFlight).ConfigureAwait(false);
        return Report(clock.Elapsed);
    }

    /// <summary>Sends again up to <paramref name="count"/> accepted events, unchanged; returns how many were accepted again.</summary>
    public async Task<int> ResendAsync(int count, CancellationToken cancellationToken)
    {
        var again = Accepted.Take(count).Select(a => (a.Key, a.Value)).ToList();
        return (await Task.WhenAll(again.Select(e => SendAsync([e], cancellationToken))).ConfigureAwait(false)).Sum();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _http.Dispose();
        _inFlight?.Dispose();
    }

    private LoadReport Report(TimeSpan elapsed)
    {
        var sorted = _latencies.Order().ToList();
        double Percentile(double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
        return new LoadReport(Interlocked.Read(ref _sent), Interlocked.Read(ref _accepted), Interlocked.Read(ref _refused), Interlocked.Read(ref _unavailable),
            Interlocked.Read(ref _networkErrors), Percentile(0.50), Percentile(0.95), Percentile(0.99), elapsed);
    }

    // One event: its id, and its JSON.
    private (string Id, string Json) NextEvent(long i)
    {
        lock (_random)
        {
            if (!Accepted.IsEmpty && _random.NextDouble() < options.DuplicateShare)
            {
                var resend = Accepted.ElementAt(_random.Next(Math.Min(Accepted.Count, 1000)));
                return (resend.Key, resend.Value);
            }
            var id = Guid.CreateVersion7().ToString();
            var type = options.Types[_random.Next(options.Types.Count)];
            var user = _random.Next(3) == 0 ? $"\"anonymousId\":\"anon-{_random.Next(5000)}\"" : $"\"userId\":\"user-{_random.Next(1000)}\"";
            var properties = (i % 4) switch
            {
                0 => $"{{\"path\":\"/p/{_random.Next(50)}\",\"referrer\":\"https://example.com/\"}}",
                1 => $"{{\"amount\":{_random.Next(1, 500)}.{_random.Next(100):D2},\"currency\":\"EUR\","
                    + $"\"items\":[{{\"sku\":\"S-{_random.Next(100)}\",\"qty\":{_random.Next(1, 4)}}}]}}",
                2 => $"{{\"query\":\"q {_random.Next(1000)}\",\"results\":{_random.Next(100)},\"filters\":{{\"inStock\":true}}}}",
                _ => "{}",
            };
            if (_random.NextDouble() < options.InvalidShare)
            {
                (type, user, properties) = _random.Next(3) switch
                {
                    0 => (type, "\"userId\":\"\"", properties), // no user at all
                    1 => ("9 not a type", user, properties),
                    _ => (type, user, "{\"n\":1e400}"), // a number DynamoDB cannot store
                };
            }
            return (id, $"{{\"eventId\":\"{id}\",\"eventType\":\"{type}\",{user},\"properties\":{properties}}}");
        }
    }

    // Sends until every event is answered (or three minutes pass); returns how many were accepted.
    private async Task<int> SendAsync(IReadOnlyList<(string Id, string Json)> events, CancellationToken cancellationToken)
    {
        if (_inFlight is null)
        {
            return await SendNowAsync(events, cancellationToken).ConfigureAwait(false);
        }
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await SendNowAsync(events, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private async Task<int> SendNowAsync(IReadOnlyList<(string Id, string Json)> events, CancellationToken cancellationToken)
    {
        var pending = events.ToList();
        var accepted = 0;
        var giveUp = TimeProvider.System.GetUtcNow().AddMinutes(3);
        while (pending.Count > 0 && TimeProvider.System.GetUtcNow() < giveUp && !cancellationToken.IsCancellationRequested)
        {
            var batch = pending.Count > 1 || options.Batch > 1;
            var body = batch ? $"{{\"events\":[{string.Join(',', pending.Select(e => e.Json))}]}}" : pending[0].Json;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, batch ? "/events/batch" : "/events")
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                request.Headers.Add("x-api-key", key);
                var started = Stopwatch.GetTimestamp();
                using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                _latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests)
                {
                    Interlocked.Add(ref _unavailable, pending.Count);
                    await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                    continue;
                }
                if (!batch)
                {
                    return accepted + Settle(pending[0], response.StatusCode == HttpStatusCode.Accepted);
                }
                if (response.StatusCode == HttpStatusCode.BadRequest)
                {
                    pending.ForEach(e => Settle(e, false)); // every item invalid
                    return accepted;
                }
                var items = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false))!["items"]!.AsArray();
                var retry = new List<(string, string)>();
                for (var i = 0; i < pending.Count; i++)
                {
                    switch (items[i]!["status"]!.GetValue<string>())
                    {
                        case "unavailable":
                            retry.Add(pending[i]);
                            break;
                        case var status:
                            accepted += Settle(pending[i], status == "accepted");
                            break;
                    }
                }
                pending = retry;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _networkErrors);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
        return accepted;
    }

    private int Settle((string Id, string Json) e, bool accepted)
    {
        if (accepted)
        {
            Accepted[e.Id] = e.Json;
            Interlocked.Increment(ref _accepted);
            return 1;
        }
        Interlocked.Increment(ref _refused);
        return 0;
    }
}
