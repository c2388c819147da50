using Pipeline.ApiKeys;

namespace Pipeline.Local;

/// <summary>
/// <c>keys create|list|revoke</c>: manages API keys in the API-keys table, of the local environment by
/// default, or of a deployed stack with <c>--profile</c>/<c>--region</c> (credentials from the AWS default chain).
/// </summary>
public static class KeysCommand
{
    internal const string Usage = """
          keys create --name NAME     create a key; it is printed once and stored only as a hash
          keys list                   list keys (id, name, created, revoked)
          keys revoke KEY_ID          revoke a key (takes effect within the API's key cache time, 30 s)
            options: --stack NAME (table NAME-api-keys; default pipeline-local or PIPELINE_STACK)
                     --table TABLE  --profile PROFILE  --region REGION  (AWS instead of the local environment)
                     --endpoint URL (DynamoDB Local elsewhere than http://127.0.0.1:8000)
        """;

    /// <summary>Runs a keys subcommand; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, string stackName, TextWriter output, CancellationToken cancellationToken)
    {
        var options = new CommandOptions(args.Skip(2));
        var positional = args.Skip(2).Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || !args[i + 1].StartsWith("--", StringComparison.Ordinal))).ToList();
        var table = options["table"] ?? $"{options["stack"] ?? stackName}-api-keys";
        using var dynamoDb = options.DynamoDb();
        var registry = new ApiKeyRegistry(dynamoDb, table);

        switch (args.ElementAtOrDefault(1))
        {
            case "create" when options["name"] is { Length: > 0 } name:
                var (key, record) = await registry.CreateAsync(name, cancellationToken);
                await output.WriteLineAsync($"Created key {record.KeyId} ({record.Name}) in {table}. Its value, shown only this once:");
                await output.WriteLineAsync(key);
                return 0;
            case "list":
                await output.WriteLineAsync($"{"KEY ID",-14}{"NAME",-24}{"CREATED",-22}REVOKED");
                foreach (var r in await registry.ListAsync(cancellationToken))
                {
                    await output.WriteLineAsync($"{r.KeyId,-14}{r.Name,-24}{r.CreatedAt:yyyy-MM-dd HH:mm:ss}   {r.RevokedAt?.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) ?? "-"}");
                }
                return 0;
            case "revoke" when positional.Count == 1:
                if (await registry.RevokeAsync(positional[0], cancellationToken))
                {
                    await output.WriteLineAsync($"Revoked {positional[0]}.");
                    return 0;
                }
                await Console.Error.WriteLineAsync($"No key with id {positional[0]} in {table}.");
                return 1;
            default:
                await Console.Error.WriteLineAsync($"usage: dotnet run --project src/Local --\n{Usage}");
                return 2;
        }
    }
}
