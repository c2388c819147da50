using Pipeline.ApiKeys;
using Pipeline.Cli.Commands;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

public sealed class KeysCommandTests
{
    [Fact]
    public async Task Keys_are_created_once_listed_and_revoked_through_the_command()
    {
        using var aws = await TestEnvironment.CreateClientsAsync();
        var stack = await TestEnvironment.ProvisionAsync(aws);
        var endpoint = aws.Endpoints.DynamoDb.ToString();
        string[] Args(params string[] command) => ["keys", .. command, "--stack", stack.StackName, "--endpoint", endpoint];

        using var created = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args("create", "--name", "mobile"), created, CancellationToken.None));
        var key = created.ToString().Trim().Split('\n')[^1];
        var registry = new ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]);
        var record = await registry.FindAsync(key, CancellationToken.None);
        Assert.NotNull(record);
        Assert.True(record.IsActive);

        using var listed = new StringWriter();
        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args("list"), listed, CancellationToken.None));
        Assert.Contains(record.KeyId, listed.ToString(), StringComparison.Ordinal);
        Assert.Contains("mobile", listed.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(key, listed.ToString(), StringComparison.Ordinal);

        Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(Args("revoke", record.KeyId), TextWriter.Null, CancellationToken.None));
        Assert.False((await registry.FindAsync(key, CancellationToken.None))!.IsActive);
        Assert.Equal(1, await Pipeline.Cli.CliCommands.RunAsync(Args("revoke", "000000000000"), TextWriter.Null, CancellationToken.None));
        Assert.Equal(2, await Pipeline.Cli.CliCommands.RunAsync(Args("create"), TextWriter.Null, CancellationToken.None));
    }
}
