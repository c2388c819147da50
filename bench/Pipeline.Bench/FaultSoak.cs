using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Pipeline.Aggregator;
using Pipeline.ApiKeys;
using Pipeline.Archive;
using Pipeline.Cli.Commands;
using Pipeline.Local;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Local.Schedule;
using Pipeline.Summaries;
using Pipeline.Tests;

namespace Pipeline.Bench;

/// <summary>
/// The promise "a 202 means stored", under faults. A steady stream of events goes through the Api (a client that retries
/// 503/429 after Retry-After, and network errors, with its own eventId), while the soak stops DynamoDB, the SQS/S3/SNS
/// server, and S3 alone for 10 s each (every client reaches them through a proxy that refuses and drops connections), kills the
/// Processor process mid-batch twice (SIGKILL), and resends a burst of already accepted events. Then it checks, for every
/// event answered 202: stored exactly once, archived, counted exactly once by the latest summary revisions; and the DLQ;
/// but only once the events queue is empty and every window's summary is final. Loopback only, bounded in time.
/// </summary>
internal static class FaultSoak
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    // The template's look-back is 60 minutes, past the 5 x 180 s a message can take before the DLQ; the soak's is 3, past
    // its 5 x 35 s, so that summaries are final (every window past its look-back) minutes, not an hour, after the load.
    private static readonly TimeSpan Lookback = TimeSpan.FromMinutes(3);

    // The most the drain may take once the load stops; past it the soak fails instead of judging.
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(10);

    public static async Task<string> RunAsync(int seconds, int rate)
    {
        await using var bench = await BenchStack.StartAsync();
        var direct = bench.Aws;
        var stack = bench.Stack;
        await using var dynamoDb = new TcpProxy(direct.Endpoints.DynamoDb);
        await using var fauxqs = new TcpProxy(direct.Endpoints.Fauxqs);
        // S3 on its own proxy (the same fauxqs behind it), so the soak can stop S3 alone: the Processor's archive writes.
        await using var s3 = new TcpProxy(direct.Endpoints.Fauxqs);
        var overrides = new Dictionary<string, string>
        {
            ["AWS_ENDPOINT_URL_S3"] = s3.Address.ToString(),
            ["Summaries__LookbackMinutes"] = ((int)Lookback.TotalMinutes).ToString(CultureInfo.InvariantCulture),
        };
        var faulty = new LocalEndpoints(fauxqs.Address, dynamoDb.Address);
        using var faultyAws = new LocalAws(faulty);
        var queueUrl = stack.Resources["EventsQueue"].Ref;
        // Redelivery after 35 s (more than the Processor's 30 s timeout) instead of the template's 180 s, to keep the soak short.
        await direct.Sqs.SetQueueAttributesAsync(queueUrl, new Dictionary<string, string> { ["VisibilityTimeout"] = "35" });
        var (key, _) = await new ApiKeyRegistry(direct.DynamoDb, stack["ApiKeysTable"]).CreateAsync("soak", CancellationToken.None);
        var inbox = (await direct.Sqs.CreateQueueAsync($"{stack.StackName}-inbox")).QueueUrl;
        var inboxArn = (await direct.Sqs.GetQueueAttributesAsync(inbox, ["QueueArn"])).QueueARN;
        await direct.Sns.SubscribeAsync(stack["SummaryTopic"], "sqs", inboxArn, new Dictionary<string, string>(), CancellationToken.None);

        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(faulty, stack, url, CancellationToken.None);
        var notes = new ConcurrentQueue<string>();
        var clock = Stopwatch.StartNew();
        void Note(string what) => notes.Enqueue(FormattableString.Invariant($"| {clock.Elapsed.TotalSeconds:0.0} s | {what} |"));
        var processed = new ProcessedMetric();
        await using var processor = LocalProcessor.Start(stack, faulty, processed.Read, overrides);
        using var stop = new CancellationTokenSource();
        var polling = LocalProcessor.EventSource(faultyAws, stack, processor.InvokeAsync, LocalProcessor.EventSourceOptions(stack), _ => { }).RunAsync(stop.Token);
        await using var aggregator = LocalAggregator.Start(stack, faulty, Window, _ => { }, overrides: overrides);
        var aggregating = LocalAggregator.ScheduleAsync(aggregator, Window, _ => { }, stop.Token);

        // Valid events only, each with its own eventId: every one must end up stored.
        using var client = new LoadGenerator(new Uri(url), key, new LoadOptions { Rate = rate, Duration = TimeSpan.FromSeconds(seconds), DuplicateShare = 0, InvalidShare = 0 });
        var sending = Task.Run(() => client.RunAsync(null, CancellationToken.None));
        await Task.Delay(TimeSpan.FromSeconds(10));
        Note("DynamoDB stopped (connections refused and dropped)");
        dynamoDb.Cut();
        await Task.Delay(TimeSpan.FromSeconds(10));
        dynamoDb.Restore();
        Note("DynamoDB back");
        await Task.Delay(TimeSpan.FromSeconds(10));
        Note("SQS/S3/SNS server stopped");
        fauxqs.Cut();
        await Task.Delay(TimeSpan.FromSeconds(10));
        fauxqs.Restore();
        Note("SQS/S3/SNS server back");
        await Task.Delay(TimeSpan.FromSeconds(10));
        Note("S3 alone stopped: the Processor cannot archive");
        s3.Cut();
        await Task.Delay(TimeSpan.FromSeconds(10));
        s3.Restore();
        Note("S3 back");
        for (var kill = 0; kill < 2; kill++)
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
            // Mid-batch: wait for a process serving an invocation, then kill it.
            var busy = Stopwatch.StartNew();
            while (processor.BusyProcessIds.Count == 0 && busy.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(1);
            }
            foreach (var pid in processor.BusyProcessIds.Take(1))
            {
                Process.GetProcessById(pid).Kill();
                Note($"Processor process {pid} killed (SIGKILL) during an invocation");
            }
        }
        await Task.Delay(TimeSpan.FromSeconds(5));
        var resent = await client.ResendAsync(200, CancellationToken.None);
        Note($"{resent} accepted events resent with their eventId");
        var load = await sending;
        Note($"load stopped: {client.Accepted.Count} events answered 202");

        // Drain before judging: no message visible or in flight in the events queue, five reads in a row (the counts are
        // approximate); then, the schedule stopped, one Aggregator run that starts past the end + settle + look-back of every
        // window holding a soak event: it counts each a last time, so every summary is final. Past DrainTimeout the soak
        // fails, naming what it still waits for.
        var deadline = DateTimeOffset.UtcNow + DrainTimeout;
        TimeoutException Timeout(string what) => new(string.Create(CultureInfo.InvariantCulture,
            $"Fault soak: no verdict after {DrainTimeout.TotalMinutes:0} minutes of draining, still waiting for {what}."));
        try
        {
            for (var emptyReads = 0; emptyReads < 5;)
            {
                await Task.Delay(TimeSpan.FromSeconds(2));
                var queue = await direct.Sqs.GetQueueAttributesAsync(queueUrl, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
                emptyReads = queue.ApproximateNumberOfMessages + queue.ApproximateNumberOfMessagesNotVisible == 0 ? emptyReads + 1 : 0;
                if (emptyReads == 0 && DateTimeOffset.UtcNow > deadline)
                {
                    throw Timeout($"the events queue to empty ({queue.ApproximateNumberOfMessages} visible, {queue.ApproximateNumberOfMessagesNotVisible} in flight)");
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(polling, aggregating);
        }
        var stored = await StoredAsync(bench);
        var dlq = await direct.Sqs.GetQueueAttributesAsync(stack.Resources["EventsDeadLetterQueue"].Ref, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
        Note($"events queue empty (nothing visible or in flight, 5 reads 2 s apart): {stored.Count} events stored; DLQ: {dlq.ApproximateNumberOfMessages} visible, "
            + $"{dlq.ApproximateNumberOfMessagesNotVisible} in flight");
        var settings = InProcess.AggregatorOptions(stack, Window) with { Lookback = Lookback };
        var final = stored.Values.DefaultIfEmpty(DateTimeOffset.UtcNow).Max(t => SummaryWindows.Containing(t, Window).End) + settings.Settle + settings.Lookback;
        if (final > deadline)
        {
            throw Timeout($"the look-back of the window ending {final - settings.Settle - settings.Lookback:HH:mm} UTC to pass, at {final:HH:mm:ss} UTC");
        }
        Note(string.Create(CultureInfo.InvariantCulture, $"Aggregator schedule stopped; waiting until {final:HH:mm:ss} UTC: "
            + $"the last window's end + settle ({settings.Settle.TotalSeconds:0} s) + look-back ({settings.Lookback.TotalMinutes:0} min)"));
        await Task.Delay(TimeSpan.FromTicks(Math.Max(0, (final - DateTimeOffset.UtcNow).Ticks)));
        var run = await LocalAggregator.InvokeAsync(aggregator, CancellationToken.None);
        Note($"final Aggregator run, past every window's look-back: {run.EventsRead} archived events read, {run.Published.Count} summaries published");

        var failedInvocations = processor.Reports.Count(r => r.ErrorType is not null);
        return await ReportAsync(bench, client.Accepted.Keys.ToHashSet(), load, resent, stored, inbox, notes, seconds, rate, failedInvocations, processed.Total);
    }

    private static async Task<Dictionary<string, DateTimeOffset>> StoredAsync(BenchStack bench)
    {
        var items = new Dictionary<string, DateTimeOffset>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await bench.Aws.DynamoDb.ScanAsync(new ScanRequest
            {
                TableName = bench.Stack["EventsTable"],
                ProjectionExpression = "eventId, receivedAt",
                ExclusiveStartKey = start,
                ConsistentRead = true,
            });
            foreach (var item in page.Items)
            {
                items[item["eventId"].S] = DateTimeOffset.Parse(item["receivedAt"].S, CultureInfo.InvariantCulture);
            }
            start = page.LastEvaluatedKey is { Count: > 0 } next ? next : null;
        }
        while (start is not null);
        return items;
    }

    private static async Task<string> ReportAsync(BenchStack bench, HashSet<string> accepted, LoadReport load, int resent, Dictionary<string, DateTimeOffset> stored, string inbox,
        IEnumerable<string> notes, int seconds, int rate, int failedInvocations, long processed)
    {
        var archived = new Dictionary<string, int>();
        var bucket = bench.Stack["ArchiveBucket"];
        foreach (var key in await ArchiveListing.KeysAsync(bench.Aws.S3, bucket, "events/", CancellationToken.None))
        {
            // Every copy the raw objects hold (readers keep one; this counts them all, to show none is archived twice).
            using var response = await bench.Aws.S3.GetObjectAsync(bucket, key);
            using var reader = new StreamReader(new System.IO.Compression.GZipStream(response.ResponseStream, System.IO.Compression.CompressionMode.Decompress));
            while (await reader.ReadLineAsync() is { Length: > 0 } line)
            {
                var id = JsonNode.Parse(line)!["eventId"]!.GetValue<string>();
                archived[id] = archived.GetValueOrDefault(id) + 1;
            }
        }
        // The latest revision of each window's summary, as a subscriber keeps them.
        var latest = new Dictionary<DateTimeOffset, JsonNode>();
        var receive = new Amazon.SQS.Model.ReceiveMessageRequest { QueueUrl = inbox, MaxNumberOfMessages = 10, WaitTimeSeconds = 1 };
        while ((await bench.Aws.Sqs.ReceiveMessageAsync(receive)).Messages is { Count: > 0 } messages)
        {
            foreach (var message in messages)
            {
                var summary = JsonNode.Parse(JsonNode.Parse(message.Body)!["Message"]!.GetValue<string>())!;
                var start = summary["windowStart"]!.GetValue<DateTimeOffset>();
                if (!latest.TryGetValue(start, out var kept) || kept["revision"]!.GetValue<int>() < summary["revision"]!.GetValue<int>())
                {
                    latest[start] = summary;
                }
                await bench.Aws.Sqs.DeleteMessageAsync(inbox, message.ReceiptHandle);
            }
        }
        var expected = stored.Where(s => accepted.Contains(s.Key)).GroupBy(s => SummaryWindows.Containing(s.Value, Window).Start).ToDictionary(g => g.Key, g => (long)g.Count());
        var counted = latest.Values.Sum(s => s["totalEvents"]!.GetValue<long>());
        var windowsExact = expected.Count(w => latest.TryGetValue(w.Key, out var s) && s["totalEvents"]!.GetValue<long>() == w.Value);
        var revisions = latest.Values.Count(s => s["revision"]!.GetValue<int>() > 0);
        var dlq = (await bench.Aws.Sqs.GetQueueAttributesAsync(bench.Stack.Resources["EventsDeadLetterQueue"].Ref, ["ApproximateNumberOfMessages"])).ApproximateNumberOfMessages;
        var rejected = (await ArchiveListing.KeysAsync(bench.Aws.S3, bucket, "rejected/", CancellationToken.None)).Count;
        var lost = accepted.Count(id => !stored.ContainsKey(id));
        var storedWithout202 = stored.Keys.Count(id => !accepted.Contains(id));
        var notArchived = accepted.Count(id => !archived.ContainsKey(id));

        List<string> lines =
        [
            string.Create(CultureInfo.InvariantCulture, $"{seconds} s of load at {rate} events/s (POST /events, one event each, client-chosen eventId), one run, "
                + $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores."),
            "The Api, the Processor processes (local Runtime API) and the Aggregator reach DynamoDB Local and fauxqs through proxies that the soak cuts "
                + "(S3 through a proxy of its own); summary windows of 1 minute, a look-back of 3 minutes.",
            "",
            "| when | what |",
            "|---:|---|",
            .. notes,
            "",
            "| measure | value |",
            "|---|---:|",
            FormattableString.Invariant($"| events answered 202 | {accepted.Count} |"),
            FormattableString.Invariant($"| answers 503 or 429 (retried by the client after Retry-After) | {load.Unavailable} |"),
            FormattableString.Invariant($"| network errors (retried by the client) | {load.NetworkErrors} |"),
            FormattableString.Invariant($"| resent duplicates answered 202 | {resent} |"),
            FormattableString.Invariant($"| function invocations that failed (killed, or errors) | {failedInvocations} |"),
            FormattableString.Invariant($"| **lost**: answered 202, not in DynamoDB | **{lost}** |"),
            FormattableString.Invariant($"| **duplicated**: writes the Processor counted as new beyond the items stored | **{Math.Max(0, processed - stored.Count)}** |"),
            FormattableString.Invariant($"| stored without a 202 | {storedWithout202} |"),
            FormattableString.Invariant($"| answered 202, not in the archive | {notArchived} |"),
            FormattableString.Invariant($"| archived more than once (a redelivery in another batch; see the README) | {archived.Count(a => a.Value > 1)} |"),
            FormattableString.Invariant($"| counted by the latest summary revisions / stored | {counted} / {stored.Count} |"),
            FormattableString.Invariant($"| windows whose latest summary counts exactly their stored events | {windowsExact} of {expected.Count} |"),
            FormattableString.Invariant($"| windows with a revised summary (late events) | {revisions} |"),
            FormattableString.Invariant($"| rejected records | {rejected} |"),
            FormattableString.Invariant($"| **DLQ depth** | **{dlq}** |"),
            "",
            "| window (UTC) | stored | latest summary: total (revision) |",
            "|---|---:|---:|",
            .. expected.Keys.Union(latest.Keys).Order().Select(w => FormattableString.Invariant(
                $"| {w:HH:mm} | {expected.GetValueOrDefault(w)} | {(latest.TryGetValue(w, out var s) ? $"{s["totalEvents"]} ({s["revision"]})" : "none")} |")),
            "",
            lost == 0 && processed <= stored.Count && stored.Count == accepted.Count && notArchived == 0 && counted == stored.Count && windowsExact == expected.Count && dlq == 0
                ? "Result: **0 lost, 0 duplicated, every accepted event archived and counted once, DLQ empty.**"
                : "Result: **the promise was broken** (see the rows above).",
        ];
        return string.Join('\n', lines) + "\n";
    }

    /// <summary>Sums the Processor's Processed metric (new items written) from its EMF lines.</summary>
    private sealed class ProcessedMetric
    {
        private long _total;

        public long Total => Interlocked.Read(ref _total);

        public void Read(string line)
        {
            if (line.Contains("\"_aws\"", StringComparison.Ordinal) && JsonNode.Parse(line) is JsonObject metrics)
            {
                Interlocked.Add(ref _total, (long)metrics["Processed"]!.GetValue<double>());
            }
        }
    }
}
