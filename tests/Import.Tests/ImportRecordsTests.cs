using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Pipeline.Importer;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Import.Tests;

/// <summary>The imports table's record against the real DynamoDB Local, with the faults its conditional writes must survive.</summary>
public sealed class ImportRecordsTests
{
    [Fact]
    public async Task A_checkpoint_whose_response_is_lost_is_retried_and_still_moves_the_import_on_while_a_rival_invocation_stops()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var table = stack["ImportsTable"];
        var job = new ImportJob(stack["ImportsBucket"], "uploads/lost.jsonl", "etag-1");
        var records = new ImportRecords(aws.DynamoDb, table);
        var started = await records.StartAsync(job, DateTimeOffset.UtcNow, CancellationToken.None);

        // The update reaches DynamoDB Local and moves the record, then its answer is lost on the way back: the SDK retries
        // the same request, whose condition (the record at line 0) no longer holds.
        var losing = new LoseFirstAnswer(".UpdateItem");
        using var client = new AmazonDynamoDBClient(LocalAws.Credentials, new AmazonDynamoDBConfig
        {
            ServiceURL = aws.Endpoints.DynamoDb.ToString(),
            AuthenticationRegion = aws.Endpoints.Region,
            HttpClientFactory = losing,
        });
        var moved = await new ImportRecords(client, table).CheckpointAsync(
            job, 0, started with { Line = 1000, Offset = 50_000, RowsRead = 1000, Accepted = 999, Refused = 1 }, [new RefusedRow(7, ["bad"])],
            DateTimeOffset.UtcNow, CancellationToken.None);

        Assert.Equal(1, losing.Lost);
        Assert.True(moved);
        var record = await records.ReadAsync(job, CancellationToken.None);
        Assert.Equal((1000L, 999L, 1), (record!.Line, record.Accepted, record.RefusedListed)); // the refused row listed once, not twice

        // Another invocation that started from line 0 (a redelivered notification) finds the record moved and stops.
        Assert.False(await records.CheckpointAsync(job, 0, started with { Line = 500 }, [], DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Equal(1000L, (await records.ReadAsync(job, CancellationToken.None))!.Line);
    }

    // Sends the first request whose X-Amz-Target ends in the operation, then throws as if the connection dropped before its answer.
    private sealed class LoseFirstAnswer(string operation) : HttpClientFactory
    {
        private readonly string _operation = operation;
        private int _lost;

        public int Lost => _lost;

        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new Handler(this));

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

        private sealed class Handler(LoseFirstAnswer owner) : DelegatingHandler(new SocketsHttpHandler())
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                var response = await base.SendAsync(request, cancellationToken);
                if (request.Headers.TryGetValues("X-Amz-Target", out var target) && target.Single().EndsWith(owner._operation, StringComparison.Ordinal)
                    && Interlocked.CompareExchange(ref owner._lost, 1, 0) == 0)
                {
                    response.Dispose();
                    throw new HttpRequestException("The connection was closed before the answer (injected).", new IOException("reset"));
                }
                return response;
            }
        }
    }
}
