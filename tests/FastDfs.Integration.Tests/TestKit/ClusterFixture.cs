using Xunit;

namespace FastDfs.Integration.Tests.TestKit;

/// <summary>One tracker and one storage with two store paths, shared by the tests of a class.</summary>
public sealed class SingleStorageCluster : IAsyncLifetime
{
    public Cluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await Cluster.StartAsync(new StorageSpec(StorePaths: 2));

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
