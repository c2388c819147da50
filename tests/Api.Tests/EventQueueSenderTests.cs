using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.SQS;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Local.Emulators;

namespace Pipeline.Api.Tests;

/// <summary>The coalescing sender of single events, against the real queue, seen through the wire.</summary>
public sealed class EventQueueSenderTests
{
    [Fact]
    public async Task Large_events_sent_at_once_are_all_accepted_in_batches_within_sqss_256_kib()
    {
        var network = new SqsNetwork();
        await using var app = await StartAsync(network);
        using var client = app.CreateKeyedClient();
        // Small and large (nine large are over 256 KiB) mixed, so a size checked on one item and another item taken would show.
        string Padding(int i) => new('x', i % 3 == 0 ? 100 : 31_000);

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            client.PostAsync("/events", Json($$$"""{"eventType":"big","userId":"u{{{i}}}","properties":{"padding":"{{{Padding(i)}}}"}}"""))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Equal(300, (await app.DrainQueueAsync(waitSeconds: 0)).Count);
        Assert.Contains(network.BatchBodies, b => b.Count > 1); // they were coalesced...
        Assert.All(network.BatchBodies, b => Assert.InRange(b.Sum(), 1, 256 * 1024)); // ...never beyond SQS's limit
    }

    [Fact]
    public async Task An_unexpected_error_while_sending_answers_503_and_the_senders_go_on()
    {
        var network = new SqsNetwork { FailFirst = 8 };
        await using var app = await StartAsync(network);
        using var client = app.CreateKeyedClient();
        client.Timeout = TimeSpan.FromSeconds(10); // a request left hanging fails the test

        var failed = new List<HttpResponseMessage>();
        for (var i = 0; i < 8; i++)
        {
            failed.Add(await client.PostAsync("/events", Json($$"""{"eventType":"a","userId":"u{{i}}"}""")));
        }
        var after = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => client.PostAsync("/events", Json($$"""{"eventType":"b","userId":"u{{i}}"}"""))));

        Assert.All(failed, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode));
        Assert.All(failed, r => Assert.NotNull(r.Headers.RetryAfter));
        Assert.All(after, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Equal(40, (await app.DrainQueueAsync(waitSeconds: 0)).Count);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static Task<ApiApplication> StartAsync(SqsNetwork network) => ApiApplication.StartAsync(services: s =>
        s.AddSingleton<IAmazonSQS>(sp => new AmazonSQSClient(LocalAws.Credentials, new AmazonSQSConfig
        {
            ServiceURL = TestServiceUrl,
            AuthenticationRegion = "us-east-1",
            HttpClientFactory = network,
        })));

    private static string TestServiceUrl => Pipeline.Tests.TestEnvironment.GetEmulatorsAsync().GetAwaiter().GetResult().Endpoints.Fauxqs.ToString();

    /// <summary>The real queue, with each SendMessageBatch's message sizes recorded, and an unexpected error injected into the first calls.</summary>
    private sealed class SqsNetwork : HttpClientFactory
    {
        private int _failed;

        public int FailFirst { get; init; }

        public ConcurrentBag<List<int>> BatchBodies { get; } = [];

        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new Handler(this));

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

        private sealed class Handler(SqsNetwork network) : DelegatingHandler(new SocketsHttpHandler())
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                if (request.Headers.TryGetValues("X-Amz-Target", out var target) && target.Single().EndsWith(".SendMessageBatch", StringComparison.Ordinal))
                {
                    if (Interlocked.Increment(ref network._failed) <= network.FailFirst)
                    {
                        throw new InvalidOperationException("Injected: something nobody expected.");
                    }
                    var entries = JsonNode.Parse(await request.Content!.ReadAsStringAsync(cancellationToken))!["Entries"]!.AsArray();
                    network.BatchBodies.Add([.. entries.Select(e => Encoding.UTF8.GetByteCount(e!["MessageBody"]!.GetValue<string>()))]);
                }
                return await base.SendAsync(request, cancellationToken);
            }
        }
    }
}
