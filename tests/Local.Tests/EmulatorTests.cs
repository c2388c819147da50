using System.Diagnostics;
using Pipeline.Local.Emulators;

namespace Pipeline.Local.Tests;

public sealed class EmulatorTests
{
    [Fact]
    public async Task Disposing_stops_both_emulators_and_leaves_no_process()
    {
        var emulators = await LocalEmulators.StartAsync(EmulatorOptions.Private, _ => { }, CancellationToken.None);
        var endpoints = emulators.Endpoints;
        Assert.False(emulators.Reused);
        Assert.True(await LocalEmulators.AnswersAsync(endpoints, CancellationToken.None));

        await emulators.DisposeAsync();

        Assert.False(await LocalEmulators.AnswersAsync(endpoints, CancellationToken.None));
        var leftovers = Process.GetProcesses().Where(p => CommandLine(p).Contains($"--dynamodb-port {endpoints.DynamoDb.Port}", StringComparison.Ordinal)
            || CommandLine(p).Contains($"-port {endpoints.DynamoDb.Port}", StringComparison.Ordinal));
        Assert.Empty(leftovers);
    }

    [Fact]
    public async Task Running_emulators_are_reused_and_not_stopped_by_the_reuser()
    {
        var owner = await LocalEmulators.StartAsync(EmulatorOptions.Private, _ => { }, CancellationToken.None);
        try
        {
            var options = new EmulatorOptions { FauxqsPort = owner.Endpoints.Fauxqs.Port, DynamoDbPort = owner.Endpoints.DynamoDb.Port };
            var messages = new List<string>();

            await using (var reuser = await LocalEmulators.StartAsync(options, messages.Add, CancellationToken.None))
            {
                Assert.True(reuser.Reused);
            }

            Assert.Contains(messages, m => m.StartsWith("Reusing", StringComparison.Ordinal));
            Assert.True(await LocalEmulators.AnswersAsync(owner.Endpoints, CancellationToken.None));
        }
        finally
        {
            await owner.DisposeAsync();
        }
    }

    private static string CommandLine(Process process)
    {
        try
        {
            return File.ReadAllText($"/proc/{process.Id}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }
}
