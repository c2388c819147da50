using System.Text;

namespace Pipeline.Storage;

/// <summary>
/// The archive queue's messages (docs/architecture.md, D10): the Processor sends the events it has stored as JSON arrays
/// of queued events, as many as fit a message; the Aggregator writes them to S3 in large objects. Shared by both.
/// </summary>
public static class ArchiveBatch
{
    /// <summary>
    /// The largest message body, in bytes: 64 KB, the size SQS bills as one request, so a message is never billed twice;
    /// an event larger than that (up to the Api's 32 KB limit plus what it adds, well under SQS's 256 KiB) travels alone.
    /// </summary>
    public const int MaxMessageBytes = 64 * 1024 - 1024;

    /// <summary>Packs events (each a JSON object's text) into message bodies: JSON arrays of at most <see cref="MaxMessageBytes"/>.</summary>
    public static IEnumerable<string> Pack(IEnumerable<string> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var body = new StringBuilder();
        var bytes = 0;
        foreach (var json in events)
        {
            var size = Encoding.UTF8.GetByteCount(json) + 1;
            if (body.Length > 0 && bytes + size + 1 > MaxMessageBytes)
            {
                yield return body.Append(']').ToString();
                body.Clear();
                bytes = 0;
            }
            body.Append(body.Length == 0 ? '[' : ',').Append(json);
            bytes += size;
        }
        if (body.Length > 0)
        {
            yield return body.Append(']').ToString();
        }
    }
}
