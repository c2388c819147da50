using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Pipeline.ApiKeys;
using Pipeline.Local.Emulators;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class ApiKeyRegistryTests
{
    [Fact]
    public async Task A_revoked_key_cannot_be_registered_again_and_the_error_says_so()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var registry = new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]);
        var record = await registry.RegisterAsync("a-key-for-the-test-0001", "first", CancellationToken.None);
        Assert.Equal(record.KeyId, (await registry.RegisterAsync("a-key-for-the-test-0001", "again", CancellationToken.None)).KeyId); // idempotent while active
        Assert.True(await registry.RevokeAsync(record.KeyId, CancellationToken.None));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => registry.RegisterAsync("a-key-for-the-test-0001", "again", CancellationToken.None));

        Assert.Contains("revoked", error.Message, StringComparison.Ordinal);
        Assert.Contains(record.KeyId, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoking_a_key_deleted_at_the_same_moment_creates_no_stub_item()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var table = stack["ApiKeysTable"];
        var record = await new ApiKeyRegistry(aws.DynamoDb, table).RegisterAsync("a-key-for-the-test-0002", "doomed", CancellationToken.None);
        // The real DynamoDB Local, with the key's item deleted between the registry's scan and its update.
        using var racing = new AmazonDynamoDBClient(LocalAws.Credentials, new AmazonDynamoDBConfig
        {
            ServiceURL = aws.Endpoints.DynamoDb.ToString(),
            AuthenticationRegion = aws.Endpoints.Region,
            HttpClientFactory = new DeleteBeforeUpdate(aws.DynamoDb, table, ApiKeyRegistry.Hash("a-key-for-the-test-0002")),
        });

        var revoked = await new ApiKeyRegistry(racing, table).RevokeAsync(record.KeyId, CancellationToken.None);

        Assert.False(revoked);
        Assert.Empty((await aws.DynamoDb.ScanAsync(new ScanRequest { TableName = table, ConsistentRead = true })).Items);
    }

    private sealed class DeleteBeforeUpdate(IAmazonDynamoDB dynamoDb, string table, string hash) : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new Handler(dynamoDb, table, hash));

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

        public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

        private sealed class Handler(IAmazonDynamoDB dynamoDb, string table, string hash) : DelegatingHandler(new SocketsHttpHandler())
        {
            protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                if (request.Headers.TryGetValues("X-Amz-Target", out var target) && target.Single().EndsWith(".UpdateItem", StringComparison.Ordinal))
                {
                    await dynamoDb.DeleteItemAsync(table, new Dictionary<string, AttributeValue> { ["keyHash"] = new(hash) }, cancellationToken);
                }
                return await base.SendAsync(request, cancellationToken);
            }
        }
    }
}
