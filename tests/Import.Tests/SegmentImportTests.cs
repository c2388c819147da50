using System.Text.Json.Nodes;
using Amazon.DynamoDBv2.Model;
using Pipeline.ApiKeys;
using Pipeline.Intake;
using Pipeline.Local;

namespace Pipeline.Import.Tests;

/// <summary>Segment archives (tests/testdata/segment: the shape Segment's S3 destination writes) imported under a write key's id.</summary>
public sealed class SegmentImportTests
{
    public static string Fixture => File.ReadAllText(Path.Combine(RepositoryPaths.Discover().Root, "tests", "testdata", "segment", "s3-destination.jsonl"));

    [Fact]
    public async Task The_fixture_imports_every_call_type_with_the_fields_v1_stores_its_own_times_and_the_servers_fields_in_extra()
    {
        await using var h = await ImportHarness.StartAsync();
        var (_, key) = await new ApiKeyRegistry(h.Aws.DynamoDb, h.Stack["ApiKeysTable"]).CreateAsync("segment", CancellationToken.None);
        var name = $"uploads/segment/{key.KeyId}/Z9tIfiSkBi/2026-06-01/1717236900000.a1b2c3.gz";
        await h.UploadAsync(name, ImportHarness.Gzip(Fixture));

        var record = await h.FinishedRecordAsync(name);
        Assert.Equal("imported", record["status"].S);
        Assert.Equal("6", record["accepted"].N);
        var items = (await h.StoredEventsAsync(6)).ToDictionary(i => i["type"].S);
        Assert.Equal(["alias", "group", "identify", "page", "screen", "track"], items.Keys.Order());

        var track = items["track"];
        Assert.Equal("Order Completed", track["eventType"].S);
        Assert.Equal("42.5", track["properties"].M["revenue"].N);
        Assert.Equal("s-1", track["properties"].M["products"].L[0].M["sku"].S);
        Assert.Equal("user-501", track["userId"].S);
        Assert.Equal("anon-501", track["anonymousId"].S);
        Assert.Equal(SegmentEvents.EventId(await KeyHashAsync(h, key.KeyId), "ajs-next-1a2b3c4d-0001"), track["eventId"].S); // /v1's id
        Assert.Equal("ajs-next-1a2b3c4d-0001", track["messageId"].S);
        Assert.Equal("203.0.113.7", track["context"].M["ip"].S); // the file's, not a request's
        Assert.False(track.ContainsKey("sourceIp"));
        // Its own times: Segment's corrected timestamp, never corrected again by the import's clock.
        Assert.Equal("2026-06-01T10:15:02.5120000Z", track["occurredAt"].S);
        Assert.Equal("2026-06-01T10:15:00.000Z", track["originalTimestamp"].S);
        Assert.Equal("2026-06-01T10:15:02.000Z", track["sentAt"].S);
        // Segment's server fields, in extra; the import time is receivedAt.
        Assert.Equal("2026-06-01T10:15:04.512Z", track["extra"].M["receivedAt"].S);
        Assert.Equal("Segment.io", track["extra"].M["_metadata"].M["bundled"].L[0].S);
        Assert.Equal("Z9tIfiSkBi", track["extra"].M["projectId"].S);
        Assert.StartsWith(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), track["receivedAt"].S, StringComparison.Ordinal);
        Assert.Equal(name, new Uri(track["importFile"].S).AbsolutePath.TrimStart('/'));

        Assert.Equal("pro", items["identify"]["traits"].M["plan"].S);
        Assert.Equal("Pricing", items["page"]["name"].S);
        Assert.Equal("Docs", items["page"]["category"].S);
        Assert.Equal("Home", items["screen"]["name"].S);
        Assert.Equal("analytics-ios", items["screen"]["context"].M["library"].M["name"].S);
        Assert.Equal("g-77", items["group"]["groupId"].S);
        Assert.Equal("120", items["group"]["traits"].M["employees"].N);
        Assert.Equal("anon-501", items["alias"]["previousId"].S);
        Assert.All(items.Values, i => Assert.Equal(i["type"].S == "track" ? "Order Completed" : i["type"].S, i["eventType"].S));
    }

    [Fact]
    public async Task A_segment_file_without_a_known_key_id_is_unreadable_and_bad_messages_are_refused_by_line()
    {
        await using var h = await ImportHarness.StartAsync(processor: false);
        var (_, key) = await new ApiKeyRegistry(h.Aws.DynamoDb, h.Stack["ApiKeysTable"]).CreateAsync("segment", CancellationToken.None);
        await h.UploadAsync("uploads/segment/000000000000/a.json", Fixture);
        await h.UploadAsync("uploads/segment/no-key.json", Fixture);
        var lines = Fixture.Split('\n');
        var bad = string.Join('\n', lines[0], """{"type":"track","userId":"u-1"}""", """{"type":"shout","userId":"u-1"}""", "[1]",
            """{"type":"page","userId":"u-1","timestamp":"1999-01-01T00:00:00Z"}""", lines[0], "");
        await h.UploadAsync($"uploads/segment/{key.KeyId}/bad.jsonl", bad);

        var unknown = await h.FinishedRecordAsync("uploads/segment/000000000000/a.json");
        Assert.Equal("unreadable", unknown["status"].S);
        Assert.Contains("No API key has the id 000000000000", unknown["error"].S, StringComparison.Ordinal);
        var noKey = await h.FinishedRecordAsync("uploads/segment/no-key.json");
        Assert.Contains("uploads/segment/KEYID/", noKey["error"].S, StringComparison.Ordinal);

        var record = await h.FinishedRecordAsync($"uploads/segment/{key.KeyId}/bad.jsonl");
        Assert.Equal("1", record["accepted"].N);
        Assert.Equal("1", record["duplicates"].N); // the same messageId again
        var refused = (await h.ReportAsync(record))["refusedRows"]!.AsArray()
            .ToDictionary(r => (long)r!["line"]!, r => string.Join(" ", r!["reasons"]!.AsArray().Select(x => (string?)x)));
        Assert.Equal([2L, 3L, 4L, 5L], refused.Keys.Order());
        Assert.Contains("'event' is required for track", refused[2], StringComparison.Ordinal);
        Assert.Contains("'type' must be one of", refused[3], StringComparison.Ordinal);
        Assert.Contains("not a Segment message object", refused[4], StringComparison.Ordinal);
        Assert.Contains("older than the limit of 1825 days", refused[5], StringComparison.Ordinal);
        Assert.Single(await h.QueuedEventsAsync());
    }

    private static async Task<string> KeyHashAsync(ImportHarness h, string keyId) =>
        (await new ApiKeyRegistry(h.Aws.DynamoDb, h.Stack["ApiKeysTable"]).HashOfIdAsync(keyId, CancellationToken.None))!;
}
