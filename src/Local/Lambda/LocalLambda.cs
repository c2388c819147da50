using System.Globalization;
using System.Reflection;
using Pipeline.Local.CloudFormation;

namespace Pipeline.Local.Lambda;

/// <summary>The functions of a local stack (the Api too), defined from serverless.template as Lambda would run them, and built or published as a deploy would.</summary>
public static class LocalLambda
{
    /// <summary>The dummy session credentials of local functions (Lambda gives every function a session token).</summary>
    public static IReadOnlyDictionary<string, string> Credentials { get; } = new Dictionary<string, string>
    {
        ["AWS_ACCESS_KEY_ID"] = "local",
        ["AWS_SECRET_ACCESS_KEY"] = "local",
        ["AWS_SESSION_TOKEN"] = "local-session",
    };

    /// <summary>
    /// The function <paramref name="logicalId"/> of the template: its handler, memory, timeout, log level and resolved
    /// environment, Lambda's own variables, and the local endpoints (the SDKs' <c>AWS_ENDPOINT_URL_*</c>).
    /// </summary>
    /// <param name="stack">The provisioned stack.</param>
    /// <param name="logicalId">The function's logical id.</param>
    /// <param name="endpoints">The emulators.</param>
    /// <param name="overrides">Variables to set on top (a local setting, such as a shorter summary window).</param>
    /// <param name="taskRoot">The built program's folder; by default the build output of the function's CodeUri project.</param>
    public static FunctionDefinition Definition(ProvisionedResources stack, string logicalId, LocalEndpoints endpoints,
        IReadOnlyDictionary<string, string>? overrides = null, string? taskRoot = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(endpoints);
        string Setting(string name) => stack.FunctionSetting(logicalId, name) ?? throw new TemplateException($"{logicalId} has no {name}.");
        // Like CloudFormation, which names a function the template leaves unnamed after the stack and its logical id.
        var name = stack.FunctionSetting(logicalId, "FunctionName") ?? $"{stack.StackName}-{logicalId}";
        var handler = Setting("Handler");
        if (handler.Contains("::", StringComparison.Ordinal))
        {
            throw new TemplateException($"{logicalId}'s Handler '{handler}' names a class-library method; the functions are executable assemblies (docs/architecture.md, D3).");
        }
        taskRoot ??= BuildOutput(Setting("CodeUri"));
        var memory = int.Parse(Setting("MemorySize"), CultureInfo.InvariantCulture);
        var variables = new Dictionary<string, string>(stack.FunctionEnvironment(logicalId))
        {
            ["_HANDLER"] = handler,
            ["LAMBDA_TASK_ROOT"] = taskRoot,
            ["AWS_LAMBDA_FUNCTION_NAME"] = name,
            ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = memory.ToString(CultureInfo.InvariantCulture),
            ["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST",
            ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand",
            ["AWS_LAMBDA_LOG_GROUP_NAME"] = $"/aws/lambda/{name}",
            ["AWS_EXECUTION_ENV"] = "AWS_Lambda_dotnet10",
            ["AWS_REGION"] = endpoints.Region,
            ["AWS_DEFAULT_REGION"] = endpoints.Region,
            ["TZ"] = ":UTC",
            ["LANG"] = "en_US.UTF-8",
            ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoints.DynamoDb.ToString(),
            ["AWS_ENDPOINT_URL_S3"] = endpoints.Fauxqs.ToString(),
            ["AWS_ENDPOINT_URL_SQS"] = endpoints.Fauxqs.ToString(),
            ["AWS_ENDPOINT_URL_SNS"] = endpoints.Fauxqs.ToString(),
        };
        if (stack.FunctionSetting(logicalId, "LogFormat") is { } format)
        {
            variables["AWS_LAMBDA_LOG_FORMAT"] = format;
        }
        if (stack.FunctionSetting(logicalId, "ApplicationLogLevel") is { } level)
        {
            variables["AWS_LAMBDA_LOG_LEVEL"] = level;
        }
        foreach (var (key, value) in Credentials.Concat(overrides ?? new Dictionary<string, string>()))
        {
            variables[key] = value;
        }
        return new FunctionDefinition(name, taskRoot, handler, memory, TimeSpan.FromSeconds(int.Parse(Setting("Timeout"), CultureInfo.InvariantCulture)), variables);
    }

    /// <summary>
    /// Publishes the project in <paramref name="codeUri"/> as `dotnet lambda deploy-serverless` does (Release, for a Linux runtime
    /// identifier, with the msbuild-parameters of aws-lambda-tools-defaults.json) into <paramref name="output"/>; returns that
    /// folder. Like the tool, it publishes framework-dependent unless the project, evaluated with those parameters, sets
    /// SelfContained (Amazon.Lambda.Tools asks the project so: Utilities.HasExplicitSelfContainedFlag); the Api does (D22).
    /// <paramref name="properties"/> (Name=Value) are added, as a benchmark's overrides.
    /// </summary>
    public static async Task<string> PublishAsync(
        string codeUri, string runtime, string output, IEnumerable<string>? properties = null, CancellationToken cancellationToken = default)
    {
        var project = Path.GetFullPath(Path.Combine(RepositoryPaths.Discover().Root, codeUri));
        var parameters = DeployParameters();
        var arguments = new List<string> { "publish", project, "-c", "Release", "-r", runtime,
            "-o", Path.Combine(output, "out"), "--artifacts-path", Path.Combine(output, "artifacts"), "-nologo" };
        arguments.AddRange(parameters);
        var overrides = (properties ?? []).ToList();
        arguments.AddRange(overrides.Select(p => "-p:" + p));
        if (!overrides.Any(p => p.StartsWith("SelfContained=", StringComparison.Ordinal))
            && (await DotnetAsync(["msbuild", project, "-nologo", "--getProperty:SelfContained", .. parameters], cancellationToken).ConfigureAwait(false)).Trim() != "true")
        {
            arguments.AddRange(["--self-contained", "false"]);
        }
        await DotnetAsync(arguments, cancellationToken).ConfigureAwait(false);
        return Path.Combine(output, "out");
    }

    /// <summary>The msbuild-parameters deploy-serverless adds to each publish, from aws-lambda-tools-defaults.json.</summary>
    public static string[] DeployParameters()
    {
        var defaults = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Discover().Root, "aws-lambda-tools-defaults.json")));
        var parameters = defaults?["msbuild-parameters"]?.GetValue<string>() ?? "";
        // The tool hands the string to a shell-like command line; split on spaces, quotes or variables would mean something else here.
        return parameters.IndexOfAny(['"', '\'', '$', '%']) < 0
            ? parameters.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            : throw new InvalidOperationException($"msbuild-parameters '{parameters}' in aws-lambda-tools-defaults.json: only plain words are read here.");
    }

    private static async Task<string> DotnetAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = System.Diagnostics.Process.Start(start)!;
        var log = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return process.ExitCode == 0
            ? await log.ConfigureAwait(false)
            : throw new InvalidOperationException($"dotnet {string.Join(' ', start.ArgumentList)} failed:\n{await log.ConfigureAwait(false)}{await errors.ConfigureAwait(false)}");
    }

    /// <summary>
    /// Builds the projects in <paramref name="codeUris"/> (one after the other: they share libraries), in the configuration this
    /// program was built in, into the folders <see cref="BuildOutput"/> names. `up` does this first, as a deploy builds the code:
    /// the local environment references no function's project, so nothing else builds them for it.
    /// </summary>
    public static async Task BuildAsync(IEnumerable<string> codeUris, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(codeUris);
        foreach (var codeUri in codeUris.Distinct())
        {
            var project = Path.GetFullPath(Path.Combine(RepositoryPaths.Discover().Root, codeUri));
            await DotnetAsync(["build", project, "-c", Configuration, "-nologo", "-v", "q"], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The build output of the project in <paramref name="codeUri"/>, in the configuration this program was built in: `up` builds it
    /// first (<see cref="BuildAsync"/>), and <c>dotnet test</c> builds it as a project the tests reference.
    /// </summary>
    public static string BuildOutput(string codeUri)
    {
        var folder = Path.GetFullPath(Path.Combine(RepositoryPaths.Discover().Root, codeUri, "bin", Configuration, "net10.0"));
        return Directory.Exists(folder)
            ? folder
            : throw new InvalidOperationException($"The function in {codeUri} is not built ({folder} is missing): run `dotnet build`.");
    }

    private static string Configuration =>
        typeof(LocalLambda).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
}
