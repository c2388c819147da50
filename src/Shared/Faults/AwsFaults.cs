using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Pipeline.Sns;

namespace Pipeline.Faults;

/// <summary>
/// The one answer to "is this error worth retrying?", for every AWS call of the project (SDK clients and the SNS
/// client): throttling, server errors (5xx), network faults and time-outs are transient; everything else (validation,
/// a missing resource, access denied, a failed condition) is permanent, and retrying it only wastes time.
/// </summary>
public static class AwsFaults
{
    // Error codes AWS services use for throttling and passing server trouble, some with a 400 status.
    private static readonly HashSet<string> TransientCodes = new(StringComparer.Ordinal)
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "SlowDown",
        "TransactionInProgressException", "PriorRequestNotComplete", "RequestTimeout", "RequestTimeoutException",
        "ServiceUnavailable", "InternalError", "InternalFailure", "InternalServerError", "KMSThrottlingException",
    };

    // Error codes that say the request exceeded a capacity or rate (a provisioned table's, an on-demand table's maximum, the
    // account's), not that anything failed: a subset of the transient codes.
    private static readonly HashSet<string> ThrottlingCodes = new(StringComparer.Ordinal)
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "RequestLimitExceeded", "SlowDown",
    };

    /// <summary>True if the service refused the request for its capacity or rate (throttling), not for a fault.</summary>
    public static bool IsThrottling(Exception exception) => exception is AmazonServiceException { ErrorCode: { } code } && ThrottlingCodes.Contains(code);

    /// <summary>
    /// True if a retry may succeed. <paramref name="cancellationToken"/> is the caller's own: a cancellation it asked for
    /// is not a fault, but one it did not ask for (an HTTP client time-out) is.
    /// </summary>
    public static bool IsTransient(Exception exception, CancellationToken cancellationToken = default)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case AmazonServiceException { StatusCode: > 0 } service:
                    return IsTransient(service.StatusCode, service.ErrorCode); // the service answered
                case SnsException sns:
                    return IsTransient(sns.Status, sns.Code);
                case HttpRequestException or IOException or SocketException or TimeoutException:
                    return true;
                case OperationCanceledException when !cancellationToken.IsCancellationRequested:
                    return true; // a time-out inside the client, not our cancellation
                case OperationCanceledException:
                    return false;
                default:
                    break;
            }
        }
        return false;
    }

    /// <summary>
    /// True if an AWS call failed, whether for now or for good: the service answered with an error, or a transient fault
    /// (network, time-out) stopped it. The caller's own cancellation is not a failure.
    /// </summary>
    public static bool IsServiceFailure(Exception exception, CancellationToken cancellationToken = default) =>
        exception is AmazonServiceException or SnsException || IsTransient(exception, cancellationToken);

    /// <summary>True if a service's answer with this status and error code says to try again.</summary>
    public static bool IsTransient(HttpStatusCode status, string? errorCode) =>
        status >= HttpStatusCode.InternalServerError || status == HttpStatusCode.TooManyRequests || errorCode is { } code && TransientCodes.Contains(code);
}
