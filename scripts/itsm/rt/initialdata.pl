# Request Tracker 5 data for Warden's tests: the `warden` API account, approvers and a
# requester matching examples/bundle/catalog.toml by email, the `Access Requests` queue
# with the custom fields the RT adapter maps, rights, and the scrip that posts a
# Standard-Webhooks-signed webhook to Warden. Loaded once by scripts/itsm/rt/rt.sh
# (rt-setup-database --action insert); the passwords are fixed test values.

my @request_fields = ( 'Requested For', 'Target System', 'Access Level', 'Task', 'Purpose', 'Access Duration' );
my @all_fields     = ( @request_fields, 'Approval', 'Warden Status' );

our @Users = (
    { Name => 'warden', Password => 'warden-rt-test-password', EmailAddress => 'warden@localhost',
      RealName => 'Warden', Privileged => 1 },
    # approvers (bundle group payments-leads; carol is also in security)
    { Name => 'bob',   Password => 'bob-rt-test-password',   EmailAddress => 'bob@example.com',
      RealName => 'Bob', Privileged => 1 },
    { Name => 'carol', Password => 'carol-rt-test-password', EmailAddress => 'carol@example.com',
      RealName => 'Carol', Privileged => 1 },
    # requester (bundle group engineering); unprivileged like a self-service end user
    { Name => 'alice', Password => 'alice-rt-test-password', EmailAddress => 'alice@example.com',
      RealName => 'Alice', Privileged => 0 },
);

# RT only gates who may touch the approval field; Warden itself checks that the author of
# an approval is one of the role's approvers in the bundle.
our @Groups = (
    { Name => 'Access Approvers',  Description => 'may set the Approval field of access requests',
      Members => { Users => [ 'bob', 'carol' ] } },
    { Name => 'Access Requesters', Description => 'may open access requests',
      Members => { Users => [ 'alice', 'bob', 'carol' ] } },
);

our @Queues = (
    { Name => 'Access Requests', Description => 'Access requests decided and provisioned by Warden',
      CorrespondAddress => '', CommentAddress => '' },
);

our @CustomFields = (
    { Name => 'Requested For',   Type => 'FreeformSingle', Queue => 'Access Requests',
      Description => 'identity that needs access (email or bundle id)' },
    { Name => 'Target System',   Type => 'FreeformSingle', Queue => 'Access Requests',
      Description => 'bundle system id, e.g. payments-db' },
    { Name => 'Access Level',    Type => 'FreeformSingle', Queue => 'Access Requests',
      Description => 'permissions needed, e.g. read, write, admin (comma separated)' },
    { Name => 'Task',            Type => 'FreeformSingle', Queue => 'Access Requests',
      Description => 'bundle task id, instead of an access level' },
    { Name => 'Purpose',         Type => 'FreeformSingle', Queue => 'Access Requests' },
    { Name => 'Access Duration', Type => 'FreeformSingle', Queue => 'Access Requests',
      Description => 'duration, e.g. 2h or PT2H' },
    { Name => 'Approval',        Type => 'SelectSingle',   Queue => 'Access Requests',
      Description => 'an approver sets approved or rejected; Warden resets it to pending while more approvals are needed',
      Values => [ { Name => 'pending', SortOrder => 1 }, { Name => 'approved', SortOrder => 2 },
                  { Name => 'rejected', SortOrder => 3 } ] },
    { Name => 'Warden Status',   Type => 'FreeformSingle', Queue => 'Access Requests',
      Description => 'written by Warden: the state of the request and its grant' },
);

my $q = 'Access Requests';
our @ACL = (
    # warden: reads and writes everything on the queue's tickets
    ( map { { UserId => 'warden', Queue => $q, Right => $_ } }
      qw(SeeQueue ShowTicket CreateTicket ModifyTicket ReplyToTicket CommentOnTicket
         ShowTicketComments ShowOutgoingEmail Watch) ),
    ( map { my $r = $_; map { { UserId => 'warden', CF => $_, Queue => $q, Right => $r } } @all_fields }
      qw(SeeCustomField ModifyCustomField) ),

    # approvers: see, comment on and resolve tickets (ModifyTicket: a status change by a
    # person is what revoke_on_close reacts to); of the fields they set only Approval
    ( map { { GroupId => 'Access Approvers', GroupDomain => 'UserDefined', Queue => $q, Right => $_ } }
      qw(SeeQueue ShowTicket ModifyTicket CommentOnTicket ShowTicketComments Watch) ),
    ( map { { GroupId => 'Access Approvers', GroupDomain => 'UserDefined', CF => $_, Queue => $q,
              Right => 'SeeCustomField' } } @all_fields ),
    { GroupId => 'Access Approvers', GroupDomain => 'UserDefined', CF => 'Approval', Queue => $q,
      Right => 'ModifyCustomField' },

    # requesters: open tickets with the request fields, see their own tickets
    ( map { { GroupId => 'Access Requesters', GroupDomain => 'UserDefined', Queue => $q, Right => $_ } }
      qw(SeeQueue CreateTicket) ),
    ( map { { GroupId => 'Access Requesters', GroupDomain => 'UserDefined', CF => $_, Queue => $q,
              Right => 'SeeCustomField' } } @all_fields ),
    ( map { { GroupId => 'Access Requesters', GroupDomain => 'UserDefined', CF => $_, Queue => $q,
              Right => 'ModifyCustomField' } } @request_fields ),
    ( map { { GroupType => 'Requestor', GroupDomain => 'RT::Queue-Role', Queue => $q, Right => $_ } }
      qw(ShowTicket ReplyToTicket ShowTicketComments) ),
);

our @Scrips = (
    {
        Description       => 'Notify Warden (Standard Webhooks signed POST)',
        Queue             => $q,
        ScripCondition    => 'User Defined',   # CustomIsApplicableCode is only honoured by 'User Defined'
        ScripAction       => 'User Defined',
        Template          => 'Blank',
        Stage             => 'TransactionBatch',
        CustomIsApplicableCode => q{
            # Fire once per batch holding a create, custom-field or status transaction made
            # by someone other than Warden (its own write-back would loop) or RT_System.
            my @batch = @{ $self->TicketObj->TransactionBatch || [] };
            @batch = ( $self->TransactionObj ) unless @batch;
            return scalar grep {
                my $n = $_->CreatorObj->Name;
                $_->Type =~ /^(?:Create|CustomField|Status)$/ && $n ne 'warden' && $n ne 'RT_System'
            } @batch;
        },
        CustomPrepareCode => q{ return 1; },
        CustomCommitCode  => q{
            require JSON; require LWP::UserAgent; require Digest::SHA; require MIME::Base64; require POSIX;
            my $url    = RT->Config->Get('WardenWebhookURL') or return 1;
            my $secret = RT->Config->Get('WardenWebhookSecret') // '';
            my $key    = $secret =~ /^whsec_(.+)$/ ? MIME::Base64::decode_base64($1) : $secret;

            # Read as the system user: the acting user may not see every field.
            my $t = RT::Ticket->new( RT->SystemUser );
            $t->Load( $self->TicketObj->id );
            my @batch = @{ $self->TicketObj->TransactionBatch || [] };
            @batch = ( $self->TransactionObj ) unless @batch;
            my @relevant = grep {
                my $n = $_->CreatorObj->Name;
                $_->Type =~ /^(?:Create|CustomField|Status)$/ && $n ne 'warden' && $n ne 'RT_System'
            } @batch;
            return 1 unless @relevant;

            my %cf;
            my $cfs = $t->CustomFields;
            while ( my $cf = $cfs->Next ) {
                my @v = map { $_->Content } @{ $t->CustomFieldValues( $cf->id )->ItemsArrayRef };
                $cf{ $cf->Name } = @v > 1 ? \@v : $v[0];
            }
            my @txns = map {
                my $x = $_;
                my $cfname;
                if ( $x->Type eq 'CustomField' ) {
                    my $c = RT::CustomField->new( RT->SystemUser );
                    $c->Load( $x->Field );
                    $cfname = $c->Name;
                }
                {
                    id            => $x->id + 0,
                    type          => $x->Type,
                    field         => $x->Type eq 'CustomField' ? $cfname : $x->Field,
                    old_value     => $x->OldValue,
                    new_value     => $x->NewValue,
                    creator       => $x->CreatorObj->Name,
                    creator_email => $x->CreatorObj->EmailAddress,
                    created       => $x->CreatedObj->W3CDTF( Time => 1 ),
                }
            } @relevant;
            my $first = $relevant[0];
            my $payload = {
                type      => 'rt.ticket.' . lc( $first->Type ),
                timestamp => POSIX::strftime( '%Y-%m-%dT%H:%M:%SZ', gmtime ),
                data      => {
                    ticket_id        => $t->id + 0,
                    ticket_url       => RT->Config->Get('WebURL') . 'Ticket/Display.html?id=' . $t->id,
                    queue            => $t->QueueObj->Name,
                    subject          => $t->Subject,
                    status           => $t->Status,
                    requestors       => [ $t->Requestors->MemberEmailAddresses ],
                    creator          => $t->CreatorObj->Name,
                    last_updated     => $t->LastUpdatedObj->W3CDTF( Time => 1 ),
                    transaction_id   => $first->id + 0,
                    transactions     => \@txns,
                    custom_fields    => \%cf,
                },
            };
            my $body = JSON->new->canonical->utf8->encode($payload);
            # Stable per batch: a redelivery of the same change carries the same id.
            my $id   = 'rt-' . $t->id . '-txn-' . $first->id;
            my $ts   = time;
            my $sig  = MIME::Base64::encode_base64( Digest::SHA::hmac_sha256( "$id.$ts.$body", $key ), '' );
            # Short timeout: the scrip runs inside the user's request, and a Warden that is
            # down must not hold up RT (the adapter's polling catches the change later).
            my $ua   = LWP::UserAgent->new( timeout => 3, agent => 'rt-warden-webhook/1' );
            my $res  = $ua->post( $url,
                'Content-Type'      => 'application/json',
                'webhook-id'        => $id,
                'webhook-timestamp' => $ts,
                'webhook-signature' => "v1,$sig",
                Content             => $body );
            RT->Logger->error( "warden webhook to $url failed: " . $res->status_line ) unless $res->is_success;
            return 1;   # never fail the ticket transaction on delivery failure
        },
    },
);
1;
