using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Pipeline.ApiKeys;
using Pipeline.Local.Emulators;
using Pipeline.Local.EventSourceMapping;
using Pipeline.Storage;
using Pipeline.Tests;

namespace Pipeline.Processor.Tests;

/// <summary>Accepted means storable: what the Api lets in, the events table takes; what the table would refuse, the Api refuses.</summary>
public sealed class StorableTests
{
    [Theory]
    [InlineData("1e125")]
    [InlineData("9.9999999999999999999999999999999999999e125")]
    [InlineData("1e126")]
    [InlineData("-1e126")]
    [InlineData("1e-130")]
    [InlineData("1e-131")]
    [InlineData("-1.5e-131")]
    [InlineData("12345678901234567890123456789012345678")]
    [InlineData("123456789012345678901234567890123456789")]
    [InlineData("1234567890123456789012345678901234567800000")]
    [InlineData("0.000000000000000000000000000000000000000001234")]
    [InlineData("1.0000000000000000000000000000000000000000001")]
    [InlineData("-0")]
    [InlineData("0e999")]
    [InlineData("0.0e-99999999999999999999")]
    [InlineData("1e99999999999999999999")]
    [InlineData("1.0E+5")]
    [InlineData("1E400")]
    [InlineData("123.456e-3")]
    public async Task A_number_is_refused_exactly_when_dynamodb_local_refuses_it(string number)
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var problem = DynamoDbLimits.Problem(JsonDocument.Parse($$"""{"n":{{number}}}""").RootElement, "properties");

        var stored = await TryPutAsync(harness, new AttributeValue { M = new() { ["n"] = new AttributeValue { N = number } } });

        Assert.Equal(stored, problem is null);
    }

    [Theory]
    [InlineData("""{"":1}""", false)]
    [InlineData("""{"a":{"":"x"}}""", false)]
    [InlineData("""{" ":1,"Order Completed":"😀","日本":"","tab\tkey":null}""", true)]
    [InlineData("""{"a":[[],{},"",null,true]}""", true)]
    public async Task A_document_is_refused_exactly_when_dynamodb_local_refuses_it(string json, bool storable)
    {
        await using var harness = await ProcessorHarness.StartAsync();
        var document = JsonDocument.Parse(json).RootElement;

        var stored = await TryPutAsync(harness, EventStore.ToItem(ProcessorHarness.Event(1) with { Properties = document }, TimeSpan.FromDays(1))["properties"]);

        Assert.Equal(storable, stored);
        Assert.Equal(storable, DynamoDbLimits.Problem(document, "properties") is null);
    }

    [Theory]
    [InlineData("""{"a":[1,{"b":1e400}]}""", "'properties.a[1].b' is outside the range")]
    [InlineData("""{"x":{"":1}}""", "'properties.x' has an empty property name")]
    [InlineData("""{"ok":"fine","s":"\ud800"}""", "'properties.s' is not valid Unicode")]
    [InlineData("""{"\udc00":1}""", "'properties' has a property name that is not valid Unicode")]
    public void A_problem_names_the_path_to_the_value(string json, string expected)
    {
        Assert.StartsWith(expected, DynamoDbLimits.Problem(JsonDocument.Parse(json).RootElement, "properties"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/events", false)]
    [InlineData("/v1/track", false)]
    [InlineData("/events", true)] // a plan in block mode: a breaking event is a 400
    [InlineData("/v1/track", true)] // a plan that blocks every call (their names are unplanned): each 200 ends in rejected/
    public async Task Generated_documents_posted_to_the_api_are_each_refused_with_a_400_or_stored_and_none_reaches_the_dlq(string path, bool plan)
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        await using var harness = await ProcessorHarness.StartAsync();
        if (plan)
        {
            await new Pipeline.Plans.TrackingPlanStore(harness.Aws.DynamoDb, harness.Stack["TrackingPlansTable"]).SetAsync(
                """{"mode":"block","unplanned":"block","events":{"generated":{"properties":{"type":"object","maxProperties":3}}}}""", CancellationToken.None);
        }
        var (key, _) = await new ApiKeyRegistry(harness.Aws.DynamoDb, harness.Stack["ApiKeysTable"]).CreateAsync("generated", CancellationToken.None);
        var url = $"http://127.0.0.1:{LocalEmulators.FreePort()}";
        await using var api = await InProcess.StartApiAsync(harness.Aws.Endpoints, harness.Stack, url, CancellationToken.None, InProcess.PatientPlanReads);
        using var client = new HttpClient { BaseAddress = new Uri(url) };
        client.DefaultRequestHeaders.Add("x-api-key", key);

        var accepted = new List<string>();
        var refused = 0;
        for (var i = 0; i < 150; i++)
        {
            // On the Segment endpoint the document goes into one of the objects a call carries, or a field of its own.
            var segmentField = new[] { "properties", "traits", "context", "integrations", "custom" }[random.Next(5)];
            var body = path == "/events"
                ? $$"""{"eventType":"generated","userId":{{Text(random)}},"properties":{{Document(random, 0)}}}"""
                : $$"""{"messageId":"m{{i}}","event":{{Text(random)}},"userId":{{Text(random)}},"{{segmentField}}":{{Document(random, 0)}}}""";
            using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                accepted.Add((await response.Content.ReadFromJsonAsync<JsonObject>())!["eventId"]!.GetValue<string>());
            }
            else if (response.StatusCode == HttpStatusCode.OK && path != "/events")
            {
                accepted.Add(Pipeline.Intake.SegmentEvents.EventId(ApiKeyRegistry.Hash(key), $"m{i}"));
            }
            else
            {
                Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"seed {seed}: {(int)response.StatusCode} for {body}");
                var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
                // A 400 names the field: in its errors, or (a body that is not even readable as an event) in its detail's JSON path.
                Assert.True(problem!["errors"] is JsonObject || problem["detail"]!.GetValue<string>().Contains("Path: $.", StringComparison.Ordinal),
                    $"seed {seed}: {problem.ToJsonString()} for {body}");
                refused++;
            }
        }

        await using var processor = LocalProcessor.Start(harness.Stack, harness.Aws.Endpoints, _ => { });
        var source = LocalProcessor.EventSource(harness.Aws, harness.Stack, processor.InvokeAsync, new EventSourceOptions(), _ => { });
        Assert.True(await Eventually.UntilAsync(async () => (await harness.ItemsAsync()).Count + (await harness.ArchiveKeysAsync("rejected/")).Count >= accepted.Count,
            TimeSpan.FromSeconds(60), () => source.PollOnceAsync(CancellationToken.None)));

        Assert.True(accepted.Count > 10 && refused > 10, $"seed {seed}: {accepted.Count} accepted, {refused} refused: the generator should make both");
        // Every event answered 202/200 is stored, or (a call the plan blocked) in rejected/ with its reason: none lost.
        var rejected = new List<string>();
        foreach (var rejectedKey in await harness.ArchiveKeysAsync("rejected/"))
        {
            var rejection = JsonNode.Parse(await harness.ReadObjectAsync(rejectedKey, gzip: false))!;
            Assert.StartsWith("The tracking plan (version 1) refuses it", rejection["reason"]!.GetValue<string>(), StringComparison.Ordinal);
            rejected.Add(JsonNode.Parse(rejection["body"]!.GetValue<string>())!["eventId"]!.GetValue<string>());
        }
        Assert.Equal(accepted.Order(), (await harness.ItemsAsync()).Select(i => i["eventId"].S).Concat(rejected).Order());
        Assert.Equal(plan && path != "/events" ? accepted.Count : 0, rejected.Count);
        var dlq = await harness.Aws.Sqs.GetQueueAttributesAsync(harness.Stack.Resources["EventsDeadLetterQueue"].Ref, ["ApproximateNumberOfMessages"]);
        Assert.Equal(0, dlq.ApproximateNumberOfMessages);
    }

    private static async Task<bool> TryPutAsync(ProcessorHarness harness, AttributeValue value)
    {
        try
        {
            await harness.Aws.DynamoDb.PutItemAsync(harness.Stack["EventsTable"], new Dictionary<string, AttributeValue>
            {
                ["eventId"] = new(Guid.NewGuid().ToString()),
                ["p"] = value,
            });
            return true;
        }
        catch (AmazonDynamoDBException e) when (e.ErrorCode == "ValidationException")
        {
            return false;
        }
    }

    // Hostile and ordinary JSON, written as text so that numbers and escapes reach the Api exactly as generated.
    private static string Document(Random random, int depth)
    {
        var width = random.Next(0, depth < 2 ? 6 : 3);
        var members = Enumerable.Range(0, width).Select(_ => $"{Text(random)}:{Value(random, depth + 1)}");
        return "{" + string.Join(',', members) + "}";
    }

    private static string Value(Random random, int depth) => random.Next(12) switch
    {
        0 when depth < 10 => Document(random, depth),
        1 when depth < 10 => "[" + string.Join(',', Enumerable.Range(0, random.Next(4)).Select(_ => Value(random, depth + 1))) + "]",
        2 or 3 or 4 => Number(random),
        5 => random.Next(2) == 0 ? "true" : "false",
        6 => "null",
        _ => Text(random),
    };

    private static readonly string[] Texts =
    [
        "\"\"", "\" \"", "\"plain\"", "\"Order Completed\"", "\"😀🎉\"", "\"日本語\"", "\"e\\u0301\"", "\"\\u0000\"", "\"tab\\there\"",
        "\"\\ud800\"", "\"\\udc00x\"", "\"\\ud83d\\ude00\"", "\"\\\"quoted\\\"\"", "\"" + new string('x', 300) + "\"", "\"a.b[0]\"", "\"$%&/()\"",
    ];

    private static string Text(Random random) => Texts[random.Next(Texts.Length)];

    private static string Number(Random random) => random.Next(10) switch
    {
        0 => "1e126",
        1 => "-1e-131",
        2 => "123456789012345678901234567890123456789",
        3 => "1e99999999999999999999",
        4 => "-0",
        5 => "0e999",
        6 => random.NextInt64().ToString(CultureInfo.InvariantCulture),
        7 => random.NextDouble().ToString("R", CultureInfo.InvariantCulture),
        8 => "9.9999999999999999999999999999999999999e125",
        _ => $"{random.Next(1, 10)}e{random.Next(-140, 140)}",
    };
}
