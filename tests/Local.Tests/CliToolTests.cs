using System.Diagnostics;
using Pipeline.Tests;

namespace Pipeline.Local.Tests;

/// <summary>The CLI as an operator gets it: packed, installed as a .NET tool, run as the <c>pipeline</c> command.</summary>
public sealed class CliToolTests
{
    [Fact]
    public async Task The_packed_tool_installs_as_pipeline_prints_its_version_and_help_and_reads_a_local_stack_by_its_name_alone()
    {
        var root = RepositoryPaths.Discover().Root;
        var folder = Path.Combine(Path.GetTempPath(), $"pipeline-tool-{Guid.NewGuid():N}");
        try
        {
            await RunAsync("dotnet", ["pack", Path.Combine(root, "src", "Cli"), "-c", "Release", "-o", Path.Combine(folder, "packages"), "--nologo",
                "--artifacts-path", Path.Combine(folder, "artifacts")]); // its own obj and bin: the solution builds beside it
            await RunAsync("dotnet", ["tool", "install", "--tool-path", Path.Combine(folder, "tools"), "--add-source", Path.Combine(folder, "packages"), "Pipeline.Cli"]);
            var pipeline = Path.Combine(folder, "tools", "pipeline");

            Assert.Equal(ProductVersion.Current, (await RunAsync(pipeline, ["--version"])).Trim());
            // A deployed stack named by the environment is asked for its release; one that cannot be asked is said so, on stderr.
            var unreachable = new Dictionary<string, string>
            {
                ["PIPELINE_STACK"] = "shop-prod",
                ["AWS_REGION"] = "eu-west-1",
                ["AWS_ENDPOINT_URL_SSM"] = "http://127.0.0.1:9",
                ["AWS_ACCESS_KEY_ID"] = "dummy",
                ["AWS_SECRET_ACCESS_KEY"] = "dummy",
            };
            var warned = new StringWriter();
            Assert.Equal(ProductVersion.Current, (await RunAsync(pipeline, ["--version"], unreachable, warned)).Trim());
            Assert.Contains("warning: could not read the release of stack shop-prod", warned.ToString(), StringComparison.Ordinal);
            // The help lists the command tree the program builds, whatever it is.
            var help = await RunAsync(pipeline, ["--help"]);
            using (var listing = new StringWriter())
            {
                Assert.Equal(0, await Pipeline.Cli.CliCommands.RunAsync(["--help"], listing, CancellationToken.None));
                Assert.Equal(Commands(listing.ToString()), Commands(help));
            }
            Assert.NotEmpty(Commands(help));

            // Against the local servers, by the stack's name alone: its table, queues and bucket are found from it.
            using var aws = await TestEnvironment.CreateClientsAsync();
            var stack = await TestEnvironment.ProvisionAsync(aws);
            var (id, _) = await new Pipeline.ApiKeys.ApiKeyRegistry(aws.DynamoDb, stack["ApiKeysTable"]).CreateAsync("from-the-tool", CancellationToken.None);
            var keys = await RunAsync(pipeline, ["keys", "list", "--stack", stack.StackName, "--endpoint", aws.Endpoints.DynamoDb.ToString()]);
            Assert.Contains("from-the-tool", keys, StringComparison.Ordinal);
            var status = await RunAsync(
                pipeline, ["status", "--stack", stack.StackName, "--fauxqs", aws.Endpoints.Fauxqs.ToString(), "--endpoint", aws.Endpoints.DynamoDb.ToString()]);
            Assert.Contains("dead letters", status, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    // The first word of each line of the help's Commands section.
    private static List<string> Commands(string help) =>
        [.. help[(help.IndexOf("Commands:", StringComparison.Ordinal) + "Commands:".Length)..].Split('\n')
            .Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l.Length > 2 && l[2] != ' ').Select(l => l.Trim().Split(' ')[0])];

    private static async Task<string> RunAsync(string file, string[] args, Dictionary<string, string>? environment = null, TextWriter? errors = null)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["COLUMNS"] = "200";
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await error}\n{await output}");
        errors?.Write(await error);
        return await output;
    }
}
