using System.Globalization;
using FastDfs.Net;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>Raw protocol connections to a daemon's "host:port" endpoint, for tests that speak the wire themselves.</summary>
public static class Endpoints
{
    public static ValueTask<FdfsConnection> ConnectAsync(string endpoint, TimeSpan timeout)
    {
        int colon = endpoint.LastIndexOf(':');
        return FdfsConnection.ConnectAsync(endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture), timeout);
    }
}
