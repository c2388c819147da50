using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.SimpleSystemsManagement;
using Amazon.SimpleSystemsManagement.Model;

namespace Pipeline.Cli;

/// <summary>
/// The names of a stack's queues, tables and bucket, and the release it runs. A deployed stack publishes them in the
/// SSM parameter <c>/pipeline/&lt;stack&gt;</c> (serverless.template, StackResourcesParameter), so <c>--stack</c> alone
/// finds them; the local environment names them after the stack, as its provisioner does.
/// </summary>
public sealed record StackResources(
    string EventsQueue, string DeadLetterQueue, string EventsTable, string ApiKeysTable, string TrackingPlansTable, string SummariesTable,
    string ArchiveBucket, string? Version)
{
    /// <summary>The imports bucket (files under <c>uploads/</c>, reports under <c>reports/</c>); null for a stack deployed before imports.</summary>
    public string? ImportsBucket { get; init; }

    /// <summary>The imports table, one record per imported file; null for a stack deployed before imports.</summary>
    public string? ImportsTable { get; init; }

    /// <summary>The queue imported rows wait in for the Processor; null for a stack deployed before imports.</summary>
    public string? ImportEventsQueue { get; init; }

    /// <summary>The template's default <c>ImportMaxAgeDays</c>: a local stack's, and a stack's deployed before it was published.</summary>
    public const int DefaultImportMaxAgeDays = 1825;

    /// <summary>The oldest time an imported row may have, in days back from the import (the template's <c>ImportMaxAgeDays</c>).</summary>
    public int ImportMaxAgeDays { get; init; } = DefaultImportMaxAgeDays;

    /// <summary>The name of the parameter a deployed stack publishes its resources in.</summary>
    public static string ParameterName(string stack) => $"/pipeline/{stack}";

    /// <summary>A local stack's resources: named after the stack, as the local provisioner names them (no version: it runs this build).</summary>
    public static StackResources Local(string stack) => new(
        $"{stack}-events", $"{stack}-events-dlq", $"{stack}-events", $"{stack}-api-keys", $"{stack}-tracking-plans", $"{stack}-summaries",
        $"{stack}-archivebucket", null)
    {
        // The template names the imports bucket after the stack and the account (the emulators' is 000000000000).
        ImportsBucket = $"{stack}-imports-000000000000",
        ImportsTable = $"{stack}-imports",
        ImportEventsQueue = $"{stack}-import-events",
    };

    /// <summary>A deployed stack's resources, read from its parameter.</summary>
    public static async Task<StackResources> ReadAsync(IAmazonSimpleSystemsManagement ssm, string stack, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ssm);
        string value;
        try
        {
            value = (await ssm.GetParameterAsync(new GetParameterRequest { Name = ParameterName(stack) }, cancellationToken)).Parameter.Value;
        }
        catch (ParameterNotFoundException)
        {
            throw new StackNotFoundException(
                $"No parameter {ParameterName(stack)} in this account and region: is '{stack}' the stack's name, and the region and profile its own? "
                + "A stack deployed by an earlier release has none: deploy this one (docs/deploy.md).");
        }
        return Parse(value, stack);
    }

    /// <summary>Reads the parameter's JSON; a value missing a name is refused, never guessed.</summary>
    public static StackResources Parse(string json, string stack)
    {
        Names? names;
        try
        {
            names = JsonSerializer.Deserialize(json, StackResourcesJsonContext.Default.Names);
        }
        catch (JsonException e)
        {
            throw new StackNotFoundException($"The parameter {ParameterName(stack)} is not the JSON the template writes: {e.Message}");
        }
        string Required(string? value, string name) => string.IsNullOrWhiteSpace(value)
            ? throw new StackNotFoundException($"The parameter {ParameterName(stack)} names no {name}: it was not written by this project's template.")
            : value;
        return new StackResources(
            Required(names?.EventsQueue, "eventsQueue"), Required(names?.DeadLetterQueue, "deadLetterQueue"), Required(names?.EventsTable, "eventsTable"),
            Required(names?.ApiKeysTable, "apiKeysTable"), Required(names?.TrackingPlansTable, "trackingPlansTable"),
            Required(names?.SummariesTable, "summariesTable"), Required(names?.ArchiveBucket, "archiveBucket"), names?.Version)
        {
            ImportsBucket = names?.ImportsBucket,
            ImportsTable = names?.ImportsTable,
            ImportEventsQueue = names?.ImportEventsQueue,
            ImportMaxAgeDays = names?.ImportMaxAgeDays ?? DefaultImportMaxAgeDays,
        };
    }

    /// <summary>The parameter's JSON, as the template writes it.</summary>
    internal sealed record Names(
        string? EventsQueue, string? DeadLetterQueue, string? EventsTable, string? ApiKeysTable, string? TrackingPlansTable, string? SummariesTable,
        string? ArchiveBucket, string? Version, string? ImportsBucket = null, string? ImportsTable = null,
        string? ImportEventsQueue = null, int? ImportMaxAgeDays = null);
}

/// <summary>A deployed stack's resources cannot be found: the message says why and what to do.</summary>
public sealed class StackNotFoundException(string message) : InvalidOperationException(message);

/// <summary>The parameter's JSON (source-generated).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(StackResources.Names))]
internal sealed partial class StackResourcesJsonContext : JsonSerializerContext;
