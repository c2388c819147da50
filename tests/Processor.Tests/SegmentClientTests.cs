using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.ApiKeys;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Tests;

namespace Pipeline.Processor.Tests;

/// <summary>
/// Segment's and RudderStack's own Node libraries and analytics.js in Chromium, unmodified and pinned
/// (tests/Browser/package-lock.json), against the API, the queue and the Processor's process: their calls are stored
/// once each, in the table and in the archive, with their fields.
/// </summary>
public sealed class SegmentClientTests
{
    private static readonly string[] Calls = ["track", "identify", "page", "screen", "group", "alias"];

    [Fact]
    public async Task The_node_libraries_batches_resends_and_retries_after_a_503_are_stored_once_each_with_their_fields()
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var (key, _) = await new ApiKeyRegistry(harness.Aws.DynamoDb, harness.Stack["ApiKeysTable"]).CreateAsync("node", CancellationToken.None);
        // The queue behind a link that starts cut: the first requests get 503 and the libraries must retry them.
        await using var queueLink = new TcpProxy(harness.Aws.Endpoints.Fauxqs);
        queueLink.Cut();
        var answers = new ConcurrentQueue<(string Agent, string Path, int Status)>();
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(harness.Aws.Endpoints with { Fauxqs = queueLink.Address }, harness.Stack, url, CancellationToken.None,
            services => services.AddSingleton<IStartupFilter>(new AnswerRecorder(answers)));
        var output = new ConcurrentQueue<string>();
        await using var processor = LocalProcessor.Start(harness.Stack, harness.Aws.Endpoints, output.Enqueue);
        var source = LocalProcessor.EventSource(harness.Aws, harness.Stack, processor.InvokeAsync, new EventSourceOptions(), _ => { });
        using var stop = new CancellationTokenSource();
        var polling = source.RunAsync(stop.Token);
        var run = Guid.NewGuid().ToString("N")[..8];

        var clients = NodeScripts.RunAsync("segment-clients.mjs", TimeSpan.FromMinutes(2), url, key, run);
        Assert.True(await Eventually.UntilAsync(() => answers.Count(a => a.Status == 503) >= 2, TimeSpan.FromSeconds(30)));
        queueLink.Restore();
        var summary = JsonNode.Parse(await clients)!;

        // Each library got a 503, then 200s: for its batches (it may split the six calls) and for the resend.
        foreach (var agent in new[] { "analytics-node-next", "analytics-node/" })
        {
            var mine = answers.Where(a => a.Agent.StartsWith(agent, StringComparison.Ordinal)).ToList();
            Assert.All(mine, a => Assert.Equal("/v1/batch", a.Path));
            Assert.Contains(mine, a => a.Status == 503);
            Assert.True(mine.Count(a => a.Status == 200) >= 2, $"{agent}: {string.Join(", ", mine)}");
        }
        Assert.Empty(summary["segment"]!["errors"]!.AsArray());
        Assert.Empty(summary["rudder"]!["errors"]!.AsArray());

        var expected = Calls.SelectMany(c => new[] { $"{run}-segment-{c}", $"{run}-rudder-{c}" }).ToHashSet();
        var items = await WaitForItemsAsync(harness, output, expected.Count, duplicates: 2, rejected: 0); // each library's resend is a duplicate
        await stop.CancelAsync();
        await polling;

        Assert.Equal(expected.Order(), items.Select(i => i["messageId"].S).Order()); // each once, the resends included
        foreach (var library in new[] { "segment", "rudder" })
        {
            var mine = items.Where(i => i["messageId"].S.StartsWith($"{run}-{library}-", StringComparison.Ordinal))
                .ToDictionary(i => i["type"].S);
            Assert.Equal("Order Completed", mine["track"]["eventType"].S);
            Assert.Equal("42.5", mine["track"]["properties"].M["revenue"].N);
            Assert.Equal($"user-{library}", mine["track"]["userId"].S);
            Assert.Equal("pro", mine["identify"]["traits"].M["plan"].S);
            Assert.Equal("Pricing", mine["page"]["name"].S);
            Assert.Equal("Docs", mine["page"]["category"].S);
            Assert.Equal("Home", mine["screen"]["name"].S);
            Assert.Equal("g-1", mine["group"]["groupId"].S);
            Assert.Equal($"anon-{library}", mine["alias"]["previousId"].S);
            Assert.All(mine.Values, i => Assert.Equal("127.0.0.1", i["context"].M["ip"].S));
            Assert.All(mine.Values, i => Assert.True(i["context"].M.ContainsKey("library"), "the library names itself in context"));
        }

        var archived = (await harness.ArchivedEventsAsync()).Select(e => e["messageId"]!.GetValue<string>()).ToList();
        // The archive holds each call once: a resend accepted anew is a duplicate of the stored copy, which is archived.
        Assert.Equal(expected.Order(), archived.Order());
    }

    [Theory]
    [InlineData("block")]
    [InlineData("flag")]
    public async Task With_a_tracking_plan_the_node_libraries_get_200s_a_breaking_track_call_is_flagged_or_rejected_and_the_rest_stored(string mode)
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var (key, _) = await new ApiKeyRegistry(harness.Aws.DynamoDb, harness.Stack["ApiKeysTable"]).CreateAsync("node", CancellationToken.None);
        // The libraries' track call sends a numeric revenue; this plan wants a string. Their identify call passes.
        await new Pipeline.Plans.TrackingPlanStore(harness.Aws.DynamoDb, harness.Stack["TrackingPlansTable"]).SetAsync("""
            {"mode":"MODE","events":{
              "Order Completed":{"properties":{"type":"object","required":["revenue"],"properties":{"revenue":{"type":"string"}}}},
              "identify":{"traits":{"type":"object","required":["email"]}}}}
            """.Replace("MODE", mode, StringComparison.Ordinal), CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(harness.Aws.Endpoints, harness.Stack, url, CancellationToken.None, InProcess.PatientPlanReads);
        var output = new ConcurrentQueue<string>();
        await using var processor = LocalProcessor.Start(harness.Stack, harness.Aws.Endpoints, output.Enqueue);
        var source = LocalProcessor.EventSource(harness.Aws, harness.Stack, processor.InvokeAsync, new EventSourceOptions(), _ => { });
        using var stop = new CancellationTokenSource();
        var polling = source.RunAsync(stop.Token);
        var run = Guid.NewGuid().ToString("N")[..8];

        var summary = JsonNode.Parse(await NodeScripts.RunAsync("segment-clients.mjs", TimeSpan.FromMinutes(2), url, key, run))!;
        var stored = Calls.Where(c => mode == "flag" || c != "track").SelectMany(c => new[] { $"{run}-segment-{c}", $"{run}-rudder-{c}" }).ToHashSet();
        // Flagged, each library's resent track is a duplicate; blocked, both tracks and their resends are rejected.
        var items = await WaitForItemsAsync(harness, output, stored.Count, duplicates: mode == "block" ? 0 : 2, rejected: mode == "block" ? 4 : 0);
        await stop.CancelAsync();
        await polling;

        Assert.Empty(summary["segment"]!["errors"]!.AsArray()); // every batch was answered 200: nothing dropped by the libraries
        Assert.Empty(summary["rudder"]!["errors"]!.AsArray());
        Assert.Equal(stored.Order(), items.Select(i => i["messageId"].S).Order());
        Assert.All(items.Where(i => i["type"].S != "track"), i => Assert.Equal("passed", i["plan"].M["status"].S));
        var rejected = await harness.ArchiveKeysAsync("rejected/");
        if (mode == "block")
        {
            Assert.Equal(4, rejected.Count);
            foreach (var rejectedKey in rejected)
            {
                var rejection = JsonNode.Parse(await harness.ReadObjectAsync(rejectedKey, gzip: false))!;
                Assert.Contains("properties.revenue: type", rejection["reason"]!.GetValue<string>(), StringComparison.Ordinal);
                Assert.EndsWith("-track", JsonNode.Parse(rejection["body"]!.GetValue<string>())!["messageId"]!.GetValue<string>(), StringComparison.Ordinal);
            }
        }
        else
        {
            Assert.Empty(rejected);
            Assert.All(items.Where(i => i["type"].S == "track"), i =>
            {
                Assert.Equal("flagged", i["plan"].M["status"].S);
                Assert.Equal("properties.revenue", i["plan"].M["violations"].L[0].M["path"].S);
            });
        }
    }

    [Fact]
    public async Task Analytics_js_in_chromium_sends_page_and_track_cross_origin_and_they_are_stored()
    {
        Assert.True(File.Exists("/usr/bin/chromium") || Environment.GetEnvironmentVariable("CHROMIUM") is not null,
            "This test drives Chromium: apt install chromium (.ci/run does).");
        await using var harness = await ProcessorHarness.StartAsync();
        var (key, _) = await new ApiKeyRegistry(harness.Aws.DynamoDb, harness.Stack["ApiKeysTable"]).CreateAsync("browser", CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(harness.Aws.Endpoints, harness.Stack, url, CancellationToken.None);
        var output = new ConcurrentQueue<string>();
        await using var processor = LocalProcessor.Start(harness.Stack, harness.Aws.Endpoints, output.Enqueue);
        var source = LocalProcessor.EventSource(harness.Aws, harness.Stack, processor.InvokeAsync, new EventSourceOptions(), _ => { });
        using var stop = new CancellationTokenSource();
        var polling = source.RunAsync(stop.Token);

        var result = JsonNode.Parse(await NodeScripts.RunAsync("analytics-js.mjs", TimeSpan.FromMinutes(2), url, key))!;
        var items = await WaitForItemsAsync(harness, output, 2, duplicates: 0, rejected: 0);
        await stop.CancelAsync();
        await polling;

        var calls = result["calls"]!.AsArray();
        Assert.All(calls, c => Assert.Equal(200, c!["status"]!.GetValue<int>()));
        Assert.Empty(result["failures"]!.AsArray());
        Assert.DoesNotContain(result["requests"]!.AsArray(), r => r!.GetValue<string>().Contains("segment.com", StringComparison.Ordinal));
        var byType = items.ToDictionary(i => i["type"].S);
        Assert.Equal(calls.Select(c => c!["messageId"]!.GetValue<string>()).Order(), items.Select(i => i["messageId"].S).Order());
        Assert.Equal("page", byType["page"]["eventType"].S);
        Assert.Equal("Pricing", byType["page"]["name"].S);
        Assert.Equal("Docs", byType["page"]["category"].S);
        Assert.Equal("Order Completed", byType["track"]["eventType"].S);
        Assert.Equal("19.99", byType["track"]["properties"].M["revenue"].N);
        foreach (var item in items)
        {
            Assert.False(string.IsNullOrEmpty(item["anonymousId"].S));
            Assert.StartsWith(result["site"]!.GetValue<string>(), item["context"].M["page"].M["url"].S, StringComparison.Ordinal);
            Assert.Contains("Chrome", item["context"].M["userAgent"].S, StringComparison.Ordinal);
            Assert.Equal("127.0.0.1", item["context"].M["ip"].S);
        }
        var archived = (await harness.ArchivedEventsAsync()).Select(e => e["messageId"]!.GetValue<string>()).ToList();
        Assert.Equal(items.Select(i => i["messageId"].S).Order(), archived.Order());
    }

    // Waits until the Processor has handled every message the clients' calls made, then holds it to its own counts: items
    // are keyed by eventId, so a call queued twice never shows as an item, only as a duplicate the Processor counted.
    internal static async Task<List<Dictionary<string, AttributeValue>>> WaitForItemsAsync(ProcessorHarness harness, ConcurrentQueue<string> output,
        int stored, int duplicates, int rejected)
    {
        (double Processed, double Duplicates, double Rejected) Counts()
        {
            var metrics = output.Where(l => l.Contains("\"_aws\"", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[l.IndexOf('{', StringComparison.Ordinal)..])!).ToList();
            double Sum(string metric) => metrics.Sum(m => m[metric]!.GetValue<double>());
            return (Sum("Processed"), Sum("Duplicates"), Sum("Rejected"));
        }
        Assert.True(await Eventually.UntilAsync(() => Task.FromResult(Counts() is var c && c.Processed + c.Duplicates + c.Rejected >= stored + duplicates + rejected),
            TimeSpan.FromSeconds(30)), $"the Processor handled {Counts()}");
        await Eventually.QuietAsync(); // a message queued twice would be handled by now, and counted
        Assert.Equal((stored, duplicates, rejected), Counts());
        return await harness.ItemsAsync();
    }

    // Records each request's User-Agent, path and status, to tell which library saw which answer.
    private sealed class AnswerRecorder(ConcurrentQueue<(string Agent, string Path, int Status)> answers) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                await nextMiddleware(context);
                answers.Enqueue((context.Request.Headers.UserAgent.ToString(), context.Request.Path, context.Response.StatusCode));
            });
            next(app);
        };
    }
}
