using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Amazon.SQS.Model;
using Pipeline.ApiKeys;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Bench;

/// <summary>
/// Accepted events/s and p50/p99 latency of POST /events, POST /events/batch and POST /v1/batch (driven by wrk), each next
/// to the raw queue's rate (an SDK loop of SendMessage / SendMessageBatch at the same concurrency), and POST /events
/// again with a 50-type tracking plan in block mode, in one run; then the latency of POST /events and POST /v1/batch at a
/// fixed rate against raw SendMessage at the same rate (<see cref="ApiLatency"/>).
/// </summary>
internal static partial class ApiBenchmark
{
    private const string Event =
        """{"eventType":"page_view","userId":"u-42","occurredAt":"__NOW__","properties":{"path":"/pricing","referrer":"https://example.com","plan":"pro"}}""";

    // A /v1/batch as Segment's and RudderStack's Node libraries send it, flushing at 20 calls (tests/Browser/segment-clients.mjs).
    private const int SegmentCalls = 20;

    private const string SegmentCall =
        """{"type":"track","event":"page_view","userId":"u-42","messageId":"bench-__I__","timestamp":"__NOW__","""
        + """ "properties":{"path":"/pricing","referrer":"https://example.com","plan":"pro"},"context":{"library":{"name":"analytics-node","version":"6.2.0"}}}""";

    public static async Task<string> RunAsync(int seconds, int connections, LatencyOptions latency)
    {
        await using var bench = await BenchStack.StartAsync();
        var (key, _) = await new ApiKeyRegistry(bench.Aws.DynamoDb, bench.Stack["ApiKeysTable"]).CreateAsync("bench", CancellationToken.None);
        var url = $"http://127.0.0.1:{Pipeline.Local.Emulators.LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(bench.Aws.Endpoints, bench.Stack, url, CancellationToken.None);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections });
        var queueUrl = bench.Stack.Resources["EventsQueue"].Ref;
        var now = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var single = Event.Replace("__NOW__", now, StringComparison.Ordinal);
        var batch = $$"""{"events":[{{string.Join(",", Enumerable.Repeat(single, 100))}}]}""";
        var segmentBatch = $$"""{"batch":[{{string.Join(",", Enumerable.Range(0, SegmentCalls).Select(i => SegmentCall
            .Replace("__I__", i.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("__NOW__", now, StringComparison.Ordinal)))}}],"sentAt":"{{now}}"}""";
        // The raw queue gets what the API would send: an enriched event of the same size.
        var enriched = single.TrimEnd('}')
            + ""","eventId":"01939a7e-0000-7000-8000-000000000000","receivedAt":"2026-11-24T10:00:00Z","sourceIp":"127.0.0.1","""
            + "\"userAgent\":\"wrk\",\"requestId\":\"0HN:00000001\",\"schemaVersion\":1}";
        Func<Task> purge = () => Purge(bench, queueUrl);

        Console.WriteLine("warming up...");
        await Wrk(url + "/events", single, key, 2, connections);
        await purge();
        // For /v1/batch, the raw queue gets the very message the Api sends for one.
        var segmentMessage = await MessageOf(bench, queueUrl, ApiLatency.Post(http, url + "/v1/batch", segmentBatch, key));
        await Wrk(url + "/v1/batch", segmentBatch, key, 2, connections);
        await purge();

        var sendMessage = await RawSendMessage(bench, queueUrl, enriched, seconds, connections);
        await purge();
        var events = await Wrk(url + "/events", single, key, seconds, connections) with { Name = "API POST /events (wrk)" };
        await purge();
        var sendMessageBatch = await RawSendMessageBatch(bench, queueUrl, enriched, seconds, connections);
        await purge();
        var batchRate = await Wrk(url + "/events/batch", batch, key, seconds, connections);
        var eventsBatch = batchRate with { Name = "API POST /events/batch, 100 events (wrk)", EventsPerSecond = batchRate.EventsPerSecond * 100 };
        await purge();
        var segmentRaw = await Loop($"raw SQS SendMessage of a /v1/batch's message, {SegmentCalls} events (SDK loop)", seconds, connections, SegmentCalls,
            () => bench.Aws.Sqs.SendMessageAsync(new SendMessageRequest { QueueUrl = queueUrl, MessageBody = segmentMessage }));
        await purge();
        var segmentRate = await Wrk(url + "/v1/batch", segmentBatch, key, seconds, connections);
        var segment = segmentRate with { Name = $"API POST /v1/batch, {SegmentCalls} calls (wrk)", EventsPerSecond = segmentRate.EventsPerSecond * SegmentCalls };
        await purge();

        // Latency at a fixed rate, before the tracking plan below is set (the Api would start checking events against it).
        var latencySection = await ApiLatency.RunAsync(
        [
            new LatencyPair(sendMessage.Name, SendMessage(bench, queueUrl, enriched), "API POST /events", ApiLatency.Post(http, url + "/events", single, key),
                sendMessage.EventsPerSecond, events.EventsPerSecond),
            new LatencyPair($"raw SQS SendMessage of a /v1/batch's message", SendMessage(bench, queueUrl, segmentMessage, typed: false),
                $"API POST /v1/batch, {SegmentCalls} calls", ApiLatency.Post(http, url + "/v1/batch", segmentBatch, key),
                segmentRaw.EventsPerSecond / SegmentCalls, segment.EventsPerSecond / SegmentCalls),
        ], latency, connections, purge);

        // The same single events through an Api with a 50-type plan in block mode (each request checked, and passing), next
        // to the Api without a plan measured again just before it, so the two are neighbours in time.
        await purge();
        var again = await Wrk(url + "/events", single, key, seconds, connections) with { Name = "API POST /events, no plan, again (wrk)" };
        await new Pipeline.Plans.TrackingPlanStore(bench.Aws.DynamoDb, bench.Stack["TrackingPlansTable"]).SetAsync(FiftyTypePlan(), CancellationToken.None);
        var planned = $"http://127.0.0.1:{Pipeline.Local.Emulators.LocalEmulators.FreePort()}";
        Rate withPlanRate;
        await using (var withPlan = await InProcess.StartApiAsync(bench.Aws.Endpoints, bench.Stack, planned, CancellationToken.None))
        {
            await Wrk(planned + "/events", single, key, 2, connections);
            await purge();
            var planRate = await Wrk(planned + "/events", single, key, seconds, connections);
            if (planRate.Errors > 0)
            {
                throw new InvalidOperationException("The planned events must pass the plan; some were refused.");
            }
            withPlanRate = planRate with { Name = "API POST /events, 50-type plan in block mode (wrk)" };
            var sample = (await bench.Aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queueUrl, MaxNumberOfMessages = 1 })).Messages?.FirstOrDefault();
            if (sample is null || System.Text.Json.Nodes.JsonNode.Parse(sample.Body)?["plan"]?["status"]?.GetValue<string>() != "passed")
            {
                throw new InvalidOperationException($"The plan was not applied: {sample?.Body}");
            }
        }

        var throughput = new Throughput(sendMessage, events, sendMessageBatch, eventsBatch, segmentRaw, segment, again, withPlanRate);
        return Report(throughput, seconds, connections) + "\n" + latencySection;
    }

    // The one message the Api queued for a request.
    private static async Task<string> MessageOf(BenchStack bench, string queueUrl, Func<Task<bool>> request)
    {
        if (!await request())
        {
            throw new InvalidOperationException("The Api refused the benchmark's request.");
        }
        var messages = (await bench.Aws.Sqs.ReceiveMessageAsync(new ReceiveMessageRequest { QueueUrl = queueUrl, MaxNumberOfMessages = 10, WaitTimeSeconds = 1 }))
            .Messages ?? [];
        return messages.Count == 1 ? messages[0].Body : throw new InvalidOperationException($"Expected one message for the request, got {messages.Count}.");
    }

    // 50 event types, each with a schema of several typed properties (formats, enums, patterns, ranges); page_view is
    // the type the benchmark's events have, and they pass it.
    private static string FiftyTypePlan()
    {
        const string Schema = """
            {"type":"object","required":["path"],"additionalProperties":false,"properties":{
              "path":{"type":"string","pattern":"^/","maxLength":2048},
              "referrer":{"type":"string","format":"uri"},
              "plan":{"enum":["free","pro","enterprise"]},
              "revenue":{"type":"number","minimum":0},
              "items":{"type":"array","maxItems":50,"items":{"type":"object","properties":{"sku":{"type":"string"},"quantity":{"type":"integer","minimum":1}}}},
              "email":{"type":"string","format":"email"}}}
            """;
        var types = Enumerable.Range(1, 49).Select(i => $"type_{i:00}").Prepend("page_view");
        var events = string.Join(",", types.Select(t => $"\"{t}\":{{\"properties\":{Schema}}}"));
        return "{\"mode\":\"block\",\"unplanned\":\"block\",\"events\":{" + events + "}}";
    }

    private sealed record Throughput(Rate SendMessage, Rate Events, Rate SendMessageBatch, Rate EventsBatch, Rate SegmentRaw, Rate Segment, Rate Again, Rate Plan);

    private static string Report(Throughput t, int seconds, int connections)
    {
        var lines = new List<string>
        {
            $"{connections} concurrent clients, {seconds} s per measurement, one run, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores.",
            "",
            "## Throughput",
            "",
            "| measurement | events/s | p50 ms | p99 ms | errors |",
            "|---|---:|---:|---:|---:|",
        };
        Rate[] rows = [t.SendMessage, t.Events, t.SendMessageBatch, t.EventsBatch, t.SegmentRaw, t.Segment, t.Again, t.Plan];
        lines.AddRange(rows.Select(x => FormattableString.Invariant($"| {x.Name} | {x.EventsPerSecond:0} | {x.P50Ms:0.0} | {x.P99Ms:0.0} | {x.Errors} |")));
        lines.Add("");
        lines.Add(FormattableString.Invariant(
            $"- POST /events reaches **{t.Events.EventsPerSecond / t.SendMessage.EventsPerSecond:P0}** of the raw SendMessage rate (target 70%)."));
        lines.Add(FormattableString.Invariant(
            $"- POST /events/batch reaches **{t.EventsBatch.EventsPerSecond / t.SendMessageBatch.EventsPerSecond:P0}** of the raw SendMessageBatch rate (target 70%)."));
        lines.Add(FormattableString.Invariant(
            $"- POST /v1/batch reaches **{t.Segment.EventsPerSecond / t.SegmentRaw.EventsPerSecond:P0}** of the raw SendMessage rate of the message it queues."));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"- POST /events with a 50-type tracking plan in block mode reaches "
            + $"**{t.Plan.EventsPerSecond / t.Again.EventsPerSecond:P0}** of POST /events without one, measured just before it (target 85%)."));
        return string.Join('\n', lines) + "\n";
    }

    private static async Task Purge(BenchStack bench, string queueUrl)
    {
        await bench.Aws.Sqs.PurgeQueueAsync(queueUrl);
        await Task.Delay(500);
    }

    private static Task<Rate> RawSendMessage(BenchStack bench, string queueUrl, string body, int seconds, int connections)
    {
        var send = SendMessage(bench, queueUrl, body);
        return Loop("raw SQS SendMessage (SDK loop)", seconds, connections, 1, send);
    }

    // One SendMessage of the body, with the event type attribute the Api gives a single event's message (typed) or not.
    private static Func<Task<bool>> SendMessage(BenchStack bench, string queueUrl, string body, bool typed = true) => async () =>
    {
        await bench.Aws.Sqs.SendMessageAsync(new SendMessageRequest
        {
            QueueUrl = queueUrl,
            MessageBody = body,
            MessageAttributes = typed ? new() { ["eventType"] = new MessageAttributeValue { DataType = "String", StringValue = "page_view" } } : null,
        });
        return true;
    };

    private static Task<Rate> RawSendMessageBatch(BenchStack bench, string queueUrl, string body, int seconds, int connections) =>
        Loop("raw SQS SendMessageBatch, 10 events (SDK loop)", seconds, connections, 10, () => bench.Aws.Sqs.SendMessageBatchAsync(new SendMessageBatchRequest
        {
            QueueUrl = queueUrl,
            Entries = [.. Enumerable.Range(0, 10).Select(i => new SendMessageBatchRequestEntry(i.ToString(CultureInfo.InvariantCulture), body)
            {
                MessageAttributes = new() { ["eventType"] = new MessageAttributeValue { DataType = "String", StringValue = "page_view" } },
            })],
        }));

    private static async Task<Rate> Loop(string name, int seconds, int connections, int eventsPerCall, Func<Task> call)
    {
        var latencies = new List<double>();
        long calls = 0, errors = 0;
        var stopwatch = Stopwatch.StartNew();
        var end = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            var mine = new List<double>();
            while (stopwatch.Elapsed < end)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await call();
                    Interlocked.Increment(ref calls);
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (Exception e) when (e is Amazon.Runtime.AmazonServiceException or HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
            lock (latencies)
            {
                latencies.AddRange(mine);
            }
        })));
        Console.WriteLine($"{name}: {calls} calls");
        return Rate.FromLatencies(name, calls * eventsPerCall, stopwatch.Elapsed, latencies, errors);
    }

    private static async Task<Rate> Wrk(string url, string body, string key, int seconds, int connections)
    {
        var script = Path.Combine(Path.GetTempPath(), $"pipeline-bench-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, $"""
            wrk.method = "POST"
            wrk.body = [==[{body}]==]
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["x-api-key"] = "{key}"
            """);
        try
        {
            var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "-t1", $"-c{connections}", $"-d{seconds}s", "--latency", "-s", script, url })
            {
                start.ArgumentList.Add(a);
            }
            using var wrk = Process.Start(start) ?? throw new InvalidOperationException("Cannot start wrk (apt install wrk).");
            var output = await wrk.StandardOutput.ReadToEndAsync();
            await wrk.WaitForExitAsync();
            Console.WriteLine(output);
            var requests = long.Parse(RequestsPattern().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            var duration = double.Parse(DurationPattern().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            var non2xx = NonSuccessPattern().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            var socketErrors = SocketErrorsPattern().Match(output) is { Success: true } s
                ? s.Groups.Values.Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture))
                : 0;
            var errors = non2xx + socketErrors;
            return new Rate(url, (requests - non2xx) / duration, Latency(output, "50%"), Latency(output, "99%"), errors);
        }
        finally
        {
            File.Delete(script);
        }
    }

    private static double Latency(string output, string percentile)
    {
        var m = Regex.Match(output, $@"^\s+{Regex.Escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        var value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    [GeneratedRegex(@"(\d+) requests in ([\d.]+)s")]
    private static partial Regex RequestsPattern();

    [GeneratedRegex(@"requests in ([\d.]+)s")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex NonSuccessPattern();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrorsPattern();
}
