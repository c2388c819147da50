using System.CommandLine;
using System.Globalization;
using Pipeline.ApiKeys;
using Pipeline.Cli;
using Spectre.Console;

namespace Pipeline.Cli.Commands;

/// <summary>
/// <c>keys create|list|revoke</c>: manages API keys in the API-keys table, of the local environment by
/// default, or of a deployed stack with <c>--profile</c>/<c>--region</c> (credentials from the AWS default chain).
/// </summary>
public static class KeysCommand
{
    /// <summary>The command and its subcommands.</summary>
    public static Command Create()
    {
        var table = new Option<string?>("--table") { Description = "another API-keys table than the stack's", HelpName = "TABLE" };
        var name = new Option<string>("--name") { Description = "what the key is for (shown by keys list)", HelpName = "NAME", Required = true };
        var keyId = new Argument<string>("KEY_ID") { Description = "the key's id, as keys list shows it" };

        var create = new Command("create", "create a key; it is printed once and stored only as a hash") { name };
        create.SetAction((r, ct) => WithRegistryAsync(r, table, async (registry, tableName) =>
        {
            var (key, record) = await registry.CreateAsync(r.GetRequiredValue(name), ct);
            await r.InvocationConfiguration.Output.WriteLineAsync($"Created key {record.KeyId} ({record.Name}) in {tableName}. Its value, shown only this once:");
            await r.InvocationConfiguration.Output.WriteLineAsync(key);
            return 0;
        }));

        var list = new Command("list", "list keys: id, name, created, revoked");
        list.SetAction((r, ct) => WithRegistryAsync(r, table, async (registry, _) =>
        {
            var keys = Terminal.Table("key id", "name", "created (UTC)", "revoked (UTC)");
            foreach (var k in await registry.ListAsync(ct))
            {
                keys.AddRow(k.KeyId, Markup.Escape(k.Name), Time(k.CreatedAt), k.RevokedAt is { } revoked ? Time(revoked) : "-");
            }
            Terminal.For(r.InvocationConfiguration.Output).Write(keys);
            return 0;
        }));

        var revoke = new Command("revoke", "revoke a key (takes effect within the API's key cache time, 30 s)") { keyId };
        revoke.SetAction((r, ct) => WithRegistryAsync(r, table, async (registry, tableName) =>
        {
            var id = r.GetRequiredValue(keyId);
            if (await registry.RevokeAsync(id, ct))
            {
                await r.InvocationConfiguration.Output.WriteLineAsync($"Revoked {id}.");
                return 0;
            }
            await r.InvocationConfiguration.Error.WriteLineAsync($"No key with id {id} in {tableName}.");
            return 1;
        }));

        var keys = new Command("keys", "create, list and revoke API keys (keys COMMAND --help)") { create, list, revoke };
        foreach (var command in keys.Subcommands)
        {
            StackTarget.AddOptions(command, Services.DynamoDb);
            command.Options.Add(table);
        }
        return keys;
    }

    private static async Task<int> WithRegistryAsync(ParseResult result, Option<string?> table, Func<ApiKeyRegistry, string, Task<int>> action)
    {
        var target = new StackTarget(result);
        var tableName = result.GetValue(table) ?? (await target.ResourcesAsync(CancellationToken.None)).ApiKeysTable;
        using var dynamoDb = target.DynamoDb();
        return await action(new ApiKeyRegistry(dynamoDb, tableName), tableName);
    }

    private static string Time(DateTimeOffset time) => time.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
