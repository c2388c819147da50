using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Importer;

/// <summary>
/// One object to import, from where the work starts: an S3 event notification (line 0, offset 0) or one of the
/// function's own continuations (the line and uncompressed byte offset the previous invocation stopped at).
/// </summary>
/// <param name="Bucket">The bucket.</param>
/// <param name="Key">The object key, decoded.</param>
/// <param name="ETag">The object's ETag, without quotes: the version imported.</param>
/// <param name="Line">Lines already done.</param>
/// <param name="Offset">Bytes (of the decompressed file) already done.</param>
/// <param name="Continued">A continuation: it resumes only if the record is still where it says.</param>
public sealed record ImportJob(string Bucket, string Key, string ETag, long Line = 0, long Offset = 0, bool Continued = false)
{
    /// <summary>The record's key in the imports table: the object and its version.</summary>
    public string ImportId => $"s3://{Bucket}/{Key}#{ETag}";

    /// <summary>The file's name as each stored event records it.</summary>
    public string File => $"s3://{Bucket}/{Key}";

    /// <summary>The jobs a queue message holds: the objects of an S3 notification, or one continuation; none for S3's test event.</summary>
    /// <exception cref="InvalidDataException">The message is neither.</exception>
    public static IReadOnlyList<ImportJob> Read(string? body)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body ?? "");
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The message is not JSON: {e.Message}", e);
        }
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("continuation", out var c))
        {
            return [c.Deserialize(ImportJsonContext.Default.ImportJob) ?? throw new InvalidDataException("An empty continuation.")];
        }
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("Event", out var test) && test.ValueKind == JsonValueKind.String && test.GetString() == "s3:TestEvent")
        {
            return [];
        }
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("Records", out var records) || records.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException("The message is neither an S3 event notification nor a continuation.");
        }
        var jobs = new List<ImportJob>();
        foreach (var record in records.EnumerateArray())
        {
            if (record.TryGetProperty("eventName", out var name) && name.GetString()?.StartsWith("ObjectCreated:", StringComparison.Ordinal) != true)
            {
                continue;
            }
            var s3 = record.GetProperty("s3");
            var o = s3.GetProperty("object");
            jobs.Add(new ImportJob(s3.GetProperty("bucket").GetProperty("name").GetString()!, DecodeKey(o.GetProperty("key").GetString()!),
                (o.TryGetProperty("eTag", out var etag) ? etag.GetString() : null)?.Trim('"') ?? ""));
        }
        return jobs;
    }

    /// <summary>The continuation message that resumes this job at <paramref name="line"/> and <paramref name="offset"/>.</summary>
    public string ContinuationBody(long line, long offset) =>
        $"{{\"continuation\":{JsonSerializer.Serialize(this with { Line = line, Offset = offset, Continued = true }, ImportJsonContext.Default.ImportJob)}}}";

    /// <summary>S3 sends keys URL-encoded, a space as <c>+</c> (AWS S3 User Guide, "Event message structure").</summary>
    public static string DecodeKey(string key) => Uri.UnescapeDataString(key.Replace('+', ' '));
}

/// <summary>Source-generated JSON for the import function's own messages and records.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImportJob))]
[JsonSerializable(typeof(ImportReport))]
[JsonSerializable(typeof(Pipeline.Intake.IncomingEvent))]
public sealed partial class ImportJsonContext : JsonSerializerContext;
